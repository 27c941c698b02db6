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
//   the theme (a Windows 98 message box in that one);
// - conversation state: badges, tab title, toasts and desktop notifications from
//   #unread-state and #room-events, messages marked read as they are seen,
//   the new-messages divider, "N new messages" and read receipts.
(function () {
  "use strict";

  var chatSocket = null; // the room page's socket wrapper, once open

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
      chatSocket = event.detail.socketWrapper;
      event.detail.socketWrapper.send(JSON.stringify({ type: "resume", after: lastMessageId() }));
    } else if (reopened && socket.hasAttribute("data-resync")) {
      resyncPage();
    }
  });

  document.addEventListener("htmx:wsClose", function (event) {
    event.target.dataset.state = "closed";
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

  // A 400 from the fallback carries the reason (an out-of-band #chat-error).
  document.addEventListener("htmx:beforeSwap", function (event) {
    var source = event.detail.elt;
    if (source && source.hasAttribute && source.hasAttribute("data-composer") && event.detail.xhr.status === 400) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  function fallbackFailed(event) {
    var source = event.detail && event.detail.elt;
    var error = document.getElementById("chat-error");
    if (!source || !source.hasAttribute("data-composer") || !error) return;
    if (event.detail.xhr && event.detail.xhr.status === 400) return; // shown by its own fragment
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
      if (target.dataset.stick !== "1" && Number(child.dataset.author) !== me) newBelow += 1;
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
    if (list && event.detail.target && event.detail.target.id === "messages") {
      if (list.dataset.stick === "1") list.scrollTop = list.scrollHeight;
      showNewBelow();
      renderReceipts();
    }
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

  // CONVERSATION STATE
  // The server pushes the same bytes to every page: #unread-state (this user's
  // pointers and counts, after they read or mute, and whenever the page's socket
  // connects) and one <i> per new message into #room-events. Each page works out
  // its own badges: a live message counts if it is above the state's `as_of`
  // (the newest id the counts already include) and above what this page has read.
  var me = Number(document.body.dataset.userId || 0);
  var rooms = {}; // room id -> {unread, mentions, pointer, as_of, muted, live: Map(message id -> mentions me)}
  var baseTitle = document.title.replace(/^\(\d+\) /, "");
  var newBelow = 0;
  var TOASTS_MAX = 3;
  var TOAST_SECONDS = 8;
  var READ_DEBOUNCE_MS = 800;
  var DESKTOP_KEY = "boostroom-desktop-notifications";

  function loadState(element) {
    var data;
    try {
      data = JSON.parse((element && element.dataset.rooms) || "{}");
    } catch (error) {
      return;
    }
    var next = {};
    Object.keys(data).forEach(function (key) {
      var fresh = data[key];
      var known = rooms[key];
      var live = known ? known.live : new Map();
      var pointer = Math.max(fresh.pointer, known ? known.pointer : 0);
      live.forEach(function (mentioned, id) {
        if (id <= fresh.as_of || id <= pointer) live.delete(id);
      });
      next[key] = {
        unread: fresh.unread,
        mentions: fresh.mentions,
        // The page may be ahead of the server: it has seen messages it is still sending.
        counted: fresh.pointer,
        pointer: pointer,
        as_of: fresh.as_of,
        muted: fresh.muted,
        live: live,
      };
    });
    rooms = next;
    renderBadges();
    listNewRooms();
  }

  // A room this page does not list yet (a first direct message): fetch the lists again.
  var listed = new Set();
  function listNewRooms() {
    var missing = Object.keys(rooms).filter(function (key) {
      return !listed.has(key) && !document.querySelector('[data-unread-badges="' + key + '"]');
    });
    if (!missing.length) return;
    missing.forEach(function (key) {
      listed.add(key);
    });
    var url = "/chat/lists/" + (reading.room ? "?current=" + reading.room : "");
    htmx.ajax("GET", url, { source: document.body, swap: "none" }).then(renderBadges);
  }

  function counts(room) {
    // The state's counts are of messages up to as_of past its pointer; once this
    // page has read past as_of none of them is unread any more.
    var ahead = room.pointer > room.counted;
    var unread = ahead && room.pointer >= room.as_of ? 0 : room.unread;
    var mentions = ahead && room.pointer >= room.as_of ? 0 : room.mentions;
    room.live.forEach(function (mentioned, id) {
      if (id > room.pointer && id > room.as_of) {
        unread += 1;
        if (mentioned) mentions += 1;
      }
    });
    return { unread: unread, mentions: mentions };
  }

  function renderBadges() {
    var total = 0;
    Object.keys(rooms).forEach(function (key) {
      var room = rooms[key];
      var shown = counts(room);
      total += room.muted ? shown.mentions : shown.unread;
      document.querySelectorAll('[data-unread-badges="' + key + '"]').forEach(function (badges) {
        badges.classList.toggle("unread-muted", room.muted);
        var mention = badges.querySelector(".mention-count");
        var unread = badges.querySelector(".unread-count");
        mention.textContent = "@" + shown.mentions;
        mention.hidden = !shown.mentions;
        unread.textContent = String(shown.unread);
        unread.hidden = !shown.unread;
      });
    });
    var totalBadge = document.getElementById("unread-total");
    if (totalBadge) {
      totalBadge.textContent = String(total);
      totalBadge.hidden = !total;
    }
    document.title = (total ? "(" + total + ") " : "") + baseTitle;
  }

  function onActivity(item) {
    var key = item.dataset.room;
    var id = Number(item.dataset.message);
    var room = rooms[key];
    if (!room || Number(item.dataset.author) === me) return;
    if (id <= room.as_of || id <= room.pointer || room.live.has(id)) return;
    var mentioned = (item.dataset.mentions || "").split(" ").indexOf(String(me)) >= 0;
    room.live.set(id, mentioned);
    renderBadges();
    notify(item, room, mentioned);
  }

  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (!target) return;
    if (target.id === "room-events") {
      // Nothing is kept in the page: each event updates the state, then goes.
      event.detail.shouldSwap = false;
      var fragment = event.detail.fragment;
      Array.prototype.forEach.call(fragment.querySelectorAll("[data-room]"), onActivity);
    } else if (target.id === "unread-state") {
      var fresh = event.detail.fragment.querySelector("#unread-state") || event.detail.fragment.firstElementChild;
      loadState(fresh);
    }
  });

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "read-receipts") renderReceipts();
  });

  // Toasts and desktop notifications: a direct message, an order chat's message
  // or an @mention, when the user is not looking at that room.
  function notify(item, room, mentioned) {
    var kind = item.dataset.kind;
    var addressed = mentioned || ((kind === "private" || kind === "order") && !room.muted);
    if (!addressed) return;
    var watching = reading.room === item.dataset.room && document.visibilityState === "visible";
    if (watching) return;
    var title = item.dataset.from + (mentioned ? " mentioned you in " : " in ") + item.dataset.title;
    if (document.visibilityState !== "visible") desktopNotify(title, item);
    else showToast(title, item);
  }

  function showToast(title, item) {
    var holder = document.getElementById("toasts");
    var template = document.getElementById("toast-template");
    if (!holder || !template) return;
    var toast = template.content.firstElementChild.cloneNode(true);
    toast.querySelector(".toast-title").textContent = title;
    toast.querySelector(".toast-text").textContent = item.dataset.text || "";
    toast.querySelector(".toast-link").href = item.dataset.url;
    toast.dataset.room = item.dataset.room;
    toast.querySelector(".toast-close").addEventListener("click", function () {
      toast.remove();
    });
    holder.appendChild(toast);
    while (holder.children.length > TOASTS_MAX) holder.firstElementChild.remove();
    setTimeout(function () {
      toast.remove();
    }, TOAST_SECONDS * 1000);
  }

  function desktopNotify(title, item) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    if (localStorage.getItem(DESKTOP_KEY) !== "on") return;
    // The same tag in every tab of the user: the browser shows it once.
    var shown = new Notification(title, { body: item.dataset.text || "", tag: "message-" + item.dataset.message });
    shown.onclick = function () {
      window.focus();
      window.location.href = item.dataset.url;
    };
  }

  // Marking read: what is scrolled into view of a visible room page, batched.
  var reading = { room: null, visible: new Set(), seen: 0, sent: 0, timer: null };

  function markSeen() {
    if (document.visibilityState !== "visible" || !reading.visible.size) return;
    var newest = Math.max.apply(null, Array.from(reading.visible));
    if (newest <= reading.seen) return;
    reading.seen = newest;
    var room = rooms[reading.room];
    if (room && newest > room.pointer) {
      room.pointer = newest;
      renderBadges();
    }
    clearTimeout(reading.timer);
    reading.timer = setTimeout(sendRead, READ_DEBOUNCE_MS);
  }

  function sendRead() {
    if (reading.seen <= reading.sent) return;
    var through = reading.seen;
    var socket = document.querySelector("[data-chat-socket]");
    if (chatSocket && socket && socket.dataset.state === "open") {
      chatSocket.send(JSON.stringify({ type: "read", through: through }));
    } else if (socket) {
      htmx.ajax("POST", socket.dataset.readUrl, { source: socket, values: { through: through }, swap: "none" });
    }
    reading.sent = through;
  }

  function startReading() {
    var socket = document.querySelector("[data-chat-socket]");
    var list = document.getElementById("messages");
    if (!socket || !list || !("IntersectionObserver" in window)) return;
    reading.room = socket.dataset.roomId;
    var observer = new IntersectionObserver(
      function (entries) {
        entries.forEach(function (entry) {
          if (entry.target.id === "unread-divider") {
            if (entry.isIntersecting) hideJump();
            return;
          }
          var id = Number(entry.target.dataset.id);
          if (entry.isIntersecting) reading.visible.add(id);
          else reading.visible.delete(id);
        });
        markSeen();
      },
      { root: list, threshold: 0.5 }
    );
    list.querySelectorAll(":scope > [data-id], #unread-divider").forEach(function (el) {
      observer.observe(el);
    });
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        change.addedNodes.forEach(function (node) {
          if (node.nodeType === 1 && (node.dataset.id || node.id === "unread-divider")) observer.observe(node);
        });
      });
    }).observe(list, { childList: true });
    document.addEventListener("visibilitychange", markSeen);
    list.addEventListener("scroll", function () {
      if (nearBottom(list)) {
        newBelow = 0;
        showNewBelow();
      }
    });
  }

  // "N new messages ↓" instead of a silent jump while the reader is scrolled up.
  function showNewBelow() {
    var button = document.getElementById("new-below");
    if (!button) return;
    button.hidden = !newBelow;
    button.textContent = newBelow + " new message" + (newBelow === 1 ? "" : "s") + " ↓";
  }

  document.addEventListener("click", function (event) {
    if (event.target.id === "new-below") {
      var list = document.getElementById("messages");
      list.scrollTop = list.scrollHeight;
      newBelow = 0;
      showNewBelow();
    }
  });

  // Jump to the first unread message, paging back through history until it is there.
  function hideJump() {
    var jump = document.getElementById("jump-unread");
    if (jump) jump.hidden = true;
  }

  function jumpToUnread(attempts) {
    var divider = document.getElementById("unread-divider");
    var list = document.getElementById("messages");
    if (divider) {
      divider.scrollIntoView({ block: "start" });
      hideJump();
      return;
    }
    var older = document.getElementById("older-sentinel");
    if (!older || !list || attempts <= 0) return;
    htmx.trigger(older, "intersect");
    // The older page replaces the sentinel; look again once it has.
    var waited = 0;
    var poll = setInterval(function () {
      waited += 1;
      if (!older.isConnected || waited > 50) {
        clearInterval(poll);
        jumpToUnread(attempts - 1);
      }
    }, 100);
  }

  document.addEventListener("click", function (event) {
    var jump = event.target.closest && event.target.closest("#jump-unread");
    if (!jump) return;
    event.preventDefault();
    jumpToUnread(20);
  });

  // Read receipts: "Seen" under the last message the other side has read
  // (private and order rooms), "Seen by alice, bob +3" under the latest (groups).
  function renderReceipts() {
    var old = document.getElementById("receipt-line");
    if (old) old.remove();
    var data = document.getElementById("read-receipts");
    var socket = document.querySelector("[data-chat-socket]");
    var list = document.getElementById("messages");
    if (!data || !socket || !list) return;
    var messages = list.querySelectorAll(":scope > [data-id]");
    if (!messages.length) return;
    var readers = Array.prototype.map.call(data.querySelectorAll("[data-user]"), function (el) {
      return { user: Number(el.dataset.user), name: el.dataset.name, through: Number(el.dataset.through), side: el.dataset.side };
    });
    var line = document.createElement("p");
    line.id = "receipt-line";
    line.className = "receipt";
    var target = null;
    if (data.dataset.kind === "group") {
      target = messages[messages.length - 1];
      var latest = Number(target.dataset.id);
      var author = Number(target.dataset.author);
      var seenBy = readers.filter(function (r) {
        return r.through >= latest && r.user !== me && r.user !== author;
      });
      if (!seenBy.length) return;
      var names = seenBy.slice(0, 2).map(function (r) {
        return r.name;
      });
      line.textContent = "Seen by " + names.join(", ") + (seenBy.length > 2 ? " +" + (seenBy.length - 2) : "");
    } else {
      var mySide = socket.dataset.receiptSide;
      var through = 0;
      readers.forEach(function (r) {
        if (r.side !== mySide && r.user !== me) through = Math.max(through, r.through);
      });
      Array.prototype.forEach.call(messages, function (message) {
        if (Number(message.dataset.id) <= through) target = message;
      });
      if (!target) return;
      line.textContent = "Seen";
    }
    line.dataset.after = target.dataset.id;
    target.after(line);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var list = document.getElementById("messages");
    if (list) list.scrollTop = list.scrollHeight;
    var composer = document.querySelector("[data-composer] [name=client_id]");
    if (composer) composer.value = newClientId();
    startReading();
    loadState(document.getElementById("unread-state"));
    renderReceipts();
  });
})();
