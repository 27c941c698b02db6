// Boostroom's only script: what htmx cannot express on its own.
// - chat sockets resume from the last message shown, every time they open;
// - the composer gets a client_id (retries are stored once) and falls back to
//   HTTP while its socket is down;
// - messages land once, in id order, whatever path they came by;
// - live cards that are new to a list are inserted (data-upsert-into);
// - state pages (dashboards, order pages) re-read themselves when their socket
//   comes back, since events sent while it was down are gone (data-resync);
// - a theme chosen in one tab reaches every tab as #theme-state, copied to <html>;
// - confirmations and notices use the page's own message box, so they look like
//   the theme (a Windows 98 message box in that one).
(function () {
  "use strict";

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function messageIds(list) {
    return Array.prototype.map.call(list.querySelectorAll(":scope > [data-id]"), function (el) {
      return Number(el.dataset.id);
    });
  }

  function lastMessageId() {
    var list = document.getElementById("messages");
    if (!list) return 0;
    var ids = messageIds(list);
    return ids.length ? Math.max.apply(null, ids) : 0;
  }

  function nearBottom(list) {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 120;
  }

  function resetComposer(form) {
    form.reset();
    form.querySelector("[name=client_id]").value = newClientId();
  }

  function resyncPage() {
    if (document.querySelector("[data-resync]")) {
      htmx.ajax("GET", window.location.href, { target: "#main", select: "#main", swap: "outerHTML" });
    }
  }

  document.addEventListener("htmx:wsOpen", function (event) {
    var socket = event.target;
    var reopened = socket.dataset.state === "closed";
    socket.dataset.state = "open";
    if (socket.hasAttribute("data-chat-socket")) {
      event.detail.socketWrapper.send(JSON.stringify({ type: "resume", after: lastMessageId() }));
    } else if (reopened && socket.hasAttribute("data-resync")) {
      resyncPage();
    }
  });

  // 4004: this user may no longer read the room (removed, left in another tab,
  // the room deleted). The server said why in #room-gone just before closing
  // (or the page's own default stands, for a refused reconnect); nothing can be
  // sent from here any more, and the socket stays closed.
  var CLOSE_FORBIDDEN = 4004;
  document.addEventListener("htmx:wsClose", function (event) {
    var socket = event.target;
    socket.dataset.state = "closed";
    if (!socket.hasAttribute("data-chat-socket") || event.detail.event.code !== CLOSE_FORBIDDEN) return;
    socket.dataset.state = "gone";
    var notice = document.getElementById("room-gone");
    if (notice) notice.hidden = false;
    socket.querySelectorAll("[data-chat-controls] :is(textarea, input, button)").forEach(function (control) {
      control.disabled = true;
    });
  });

  document.addEventListener("htmx:wsConfigSend", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-composer")) return;
    var clientId = form.querySelector("[name=client_id]");
    if (!clientId.value) clientId.value = newClientId();
    event.detail.parameters.client_id = clientId.value;
    var socket = form.closest("[ws-connect]");
    if (socket.dataset.state !== "open") {
      event.preventDefault();
      if (event.detail.triggeringEvent) event.detail.triggeringEvent.preventDefault();
      var values = Object.assign({}, event.detail.parameters, { after: lastMessageId() });
      htmx.ajax("POST", socket.dataset.fallbackUrl, { source: form, values: values, swap: "none" });
    }
  });

  // The composer empties only when the server says this send is stored
  // (data-stored carries its client_id); on any error the text stays, and a
  // retry reuses the client_id, so it is stored at most once.
  document.addEventListener("htmx:oobAfterSwap", function () {
    var ack = document.getElementById("chat-error");
    var form = document.querySelector("[data-composer]");
    if (!ack || !form || !ack.dataset.stored) return;
    if (ack.dataset.stored === form.querySelector("[name=client_id]").value) resetComposer(form);
    ack.dataset.stored = "";
  });

  // A refused send (422, 429) carries its reason as an out-of-band #chat-error,
  // swapped like any answer (responseHandling in base.html); this is for the
  // sends that got no answer to show.
  function fallbackFailed(event) {
    var source = event.detail && event.detail.elt;
    var error = document.getElementById("chat-error");
    if (!source || !source.hasAttribute("data-composer") || !error) return;
    error.textContent = "Your message could not be sent right now. Please try again.";
  }
  document.addEventListener("htmx:responseError", fallbackFailed);
  document.addEventListener("htmx:sendError", fallbackFailed);

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target.id === "composer-body" && event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      target.form.requestSubmit();
    }
  });

  // Messages: drop ones already shown, put late ones in id order.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "messages") return;
    var fragment = event.detail.fragment;
    target.dataset.stick = nearBottom(target) ? "1" : "";
    Array.prototype.slice.call(fragment.children || fragment.childNodes).forEach(function (child) {
      if (!child.dataset || !child.dataset.id) return;
      if (document.getElementById(child.id)) {
        child.remove();
        return;
      }
      var id = Number(child.dataset.id);
      var later = Array.prototype.find.call(target.querySelectorAll(":scope > [data-id]"), function (el) {
        return Number(el.dataset.id) > id;
      });
      if (later) {
        target.insertBefore(child, later);
        htmx.process(child);
      }
    });
    var empty = document.getElementById("no-messages");
    if (empty) empty.remove();
  });

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var signal = document.getElementById("resync-signal");
    if (signal && signal.hasAttribute("data-resync-now")) {
      signal.removeAttribute("data-resync-now");
      resyncPage();
    }
    var list = document.getElementById("messages");
    if (list && list.dataset.stick === "1") list.scrollTop = list.scrollHeight;
  });

  // A live card for an item the page does not show yet goes to its list.
  function upsert(element) {
    var into = element && element.getAttribute("data-upsert-into");
    var list = into && document.querySelector(into);
    if (!list) return;
    var clone = element.cloneNode(true);
    clone.removeAttribute("hx-swap-oob");
    var existing = clone.id && list.querySelector("#" + CSS.escape(clone.id));
    if (existing) existing.replaceWith(clone);
    else list.prepend(clone);
    htmx.process(clone);
  }
  document.addEventListener("htmx:oobErrorNoTarget", function (event) {
    upsert(event.detail.content);
  });

  function oobTargetPresent(element) {
    var value = element.getAttribute("hx-swap-oob");
    var colon = value.indexOf(":");
    try {
      return Boolean(document.querySelector(colon > 0 ? value.slice(colon + 1) : "#" + CSS.escape(element.id)));
    } catch (error) {
      return true; // not a plain selector: htmx decides
    }
  }

  // Socket frames carry fragments for things a page may not show (another
  // user's presence dot, a card for a list elsewhere); htmx logs each miss as a
  // console error. They are dropped here first (on <body hx-ext>), and cards
  // that belong to a list on this page go into it.
  htmx.defineExtension("boostroom-oob", {
    transformResponse: function (text, xhr) {
      if (xhr || text.indexOf("hx-swap-oob") < 0) return text;
      var template = document.createElement("template");
      template.innerHTML = text;
      var missing = Array.prototype.filter.call(template.content.children, function (element) {
        return element.hasAttribute("hx-swap-oob") && !oobTargetPresent(element);
      });
      if (!missing.length) return text;
      missing.forEach(function (element) {
        element.remove();
        upsert(element);
      });
      return template.innerHTML;
    },
  });

  // /realtime/test/: browser-measured round trip of the ping socket.
  var pingSentAt = null;
  document.addEventListener("htmx:wsBeforeSend", function (event) {
    if (event.target.closest && event.target.closest("#ping-socket")) pingSentAt = performance.now();
  });
  document.addEventListener("htmx:wsAfterMessage", function (event) {
    var out = document.getElementById("ws-rtt");
    if (event.target.id !== "ping-socket" || pingSentAt === null || !out) return;
    out.textContent = (performance.now() - pingSentAt).toFixed(1) + " ms round trip";
    pingSentAt = null;
  });

  // The theme lives on <html data-theme>, written by the server; a change arrives
  // as #theme-state (the menu's answer in this tab, the user's socket in the others).
  function applyTheme() {
    var state = document.getElementById("theme-state");
    if (!state || !state.dataset.theme) return;
    var theme = state.dataset.theme;
    document.documentElement.dataset.theme = theme;
    document.querySelectorAll("[data-theme-option]").forEach(function (option) {
      option.setAttribute("aria-pressed", String(option.value === theme));
    });
    document.querySelectorAll("input[type=radio][name=theme]").forEach(function (radio) {
      radio.checked = radio.value === theme;
    });
  }
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "theme-state") applyTheme();
  });

  function messageBox(text, options, onOk) {
    var box = document.getElementById("message-box");
    if (!box || !box.showModal) return false;
    document.getElementById("message-box-title").textContent = options.title || "Boostroom";
    document.getElementById("message-box-text").textContent = text;
    box.querySelector("[data-message-box-cancel]").hidden = !options.cancel;
    box.returnValue = "";
    box.addEventListener(
      "close",
      function () {
        if (box.returnValue === "ok" && onOk) onOk();
      },
      { once: true }
    );
    box.showModal();
    return true;
  }

  document.addEventListener("htmx:confirm", function (event) {
    var question = event.detail.question;
    if (!question) return;
    event.preventDefault();
    var go = function () {
      event.detail.issueRequest(true);
    };
    if (!messageBox(question, { title: "Please confirm", cancel: true }, go) && window.confirm(question)) go();
  });

  // The link is shown too: the clipboard is missing on plain-http addresses.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var text = button.dataset.copy;
    var show = function (copied) {
      messageBox((copied ? "Copied to the clipboard: " : "Copy this link: ") + text, { title: button.title || "Link" });
    };
    if (!navigator.clipboard) return show(false);
    navigator.clipboard.writeText(text).then(
      function () {
        show(true);
      },
      function () {
        show(false);
      }
    );
  });

  document.addEventListener("DOMContentLoaded", function () {
    var list = document.getElementById("messages");
    if (list) list.scrollTop = list.scrollHeight;
    var composer = document.querySelector("[data-composer] [name=client_id]");
    if (composer) composer.value = newClientId();
  });
})();
