// Boostroom's only script: what htmx cannot express on its own.
// - chat sockets resume from the position (data-seq) of the last change the page
//   applied, every time they open; while a socket is down the page says so and
//   every chat action goes over HTTP instead;
// - the composer gets a client_id (retries are stored once) and shows
//   "sending…" until the server acknowledges it;
// - messages land once, in id order, whatever path they came by; edits, deletes
//   and reactions replace them in place;
// - one reaction picker, one editor and one delete form serve every message;
// - times read in the viewer's zone ("2 min ago"), messages group by author and
//   by day, scrolling up loads one page of history and keeps the reading place;
// - live cards that are new to a list are inserted (data-upsert-into), if
//   they match its filters;
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

  var GROUP_MINUTES = 5;
  var chatWrapper = null; // the room page's socket wrapper (htmx's), once open

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function myId() {
    return document.body.dataset.userId || "";
  }

  function chatSocketElement() {
    return document.querySelector("[data-chat-socket]");
  }

  function socketOpen(socket) {
    return socket && socket.dataset.state === "open";
  }

  function currentSeq() {
    var marker = document.getElementById("chat-seq");
    return marker ? Number(marker.dataset.seq || 0) : 0;
  }

  function articles(list) {
    return Array.prototype.slice.call(list.querySelectorAll(":scope > article[data-id]"));
  }

  function nearBottom(list) {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 120;
  }

  function composerForm() {
    return document.querySelector("[data-composer]");
  }

  function setStatus(text) {
    var status = document.getElementById("composer-status");
    if (status) status.textContent = text;
  }

  function resetComposer(form) {
    form.reset();
    form.querySelector("[name=client_id]").value = newClientId();
    cancelReply();
  }

  function resyncPage() {
    if (document.querySelector("[data-resync]")) {
      htmx.ajax("GET", window.location.href, { target: "#main", select: "#main", swap: "outerHTML" });
    }
  }

  // SOCKET STATE

  function showConnection(open) {
    var banner = document.getElementById("connection-status");
    if (banner) banner.hidden = open;
  }

  document.addEventListener("htmx:wsOpen", function (event) {
    var socket = event.target;
    var reopened = socket.dataset.state === "closed";
    socket.dataset.state = "open";
    if (socket.hasAttribute("data-chat-socket")) {
      chatWrapper = event.detail.socketWrapper;
      showConnection(true);
      event.detail.socketWrapper.send(JSON.stringify({ type: "resume", seq: currentSeq() }));
      // A read mark that failed while the socket was away goes now.
      if (reopened) sendRead();
      // A send that could not leave the browser goes now, with the same client_id.
      var form = composerForm();
      if (form && form.dataset.waiting) {
        delete form.dataset.waiting;
        form.requestSubmit();
      }
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
    if (!socket.hasAttribute("data-chat-socket")) return;
    if (event.detail.event.code !== CLOSE_FORBIDDEN) return showConnection(false);
    socket.dataset.state = "gone";
    var notice = document.getElementById("room-gone");
    if (notice) notice.hidden = false;
    socket.querySelectorAll("[data-chat-controls] :is(textarea, input, button)").forEach(function (control) {
      control.disabled = true;
    });
  });

  // SENDING: over the socket when it is open, else the same fields over HTTP.

  var pendingAction = null; // {clientId, kind} of the last edit/delete/reaction sent

  function reactionOn(messageId, emoji) {
    var article = document.getElementById("message-" + messageId);
    if (!article) return true;
    var chip = Array.prototype.find.call(article.querySelectorAll(".reaction"), function (el) {
      return el.dataset.emoji === emoji;
    });
    return !(chip && (" " + chip.dataset.users + " ").indexOf(" " + myId() + " ") >= 0);
  }

  document.addEventListener("htmx:wsConfigSend", function (event) {
    var elt = event.target;
    var socket = elt.closest("[data-chat-socket]");
    if (!socket) return;
    var params = event.detail.parameters;
    if (params.type === "typing") {
      if (!socketOpen(socket)) event.preventDefault();
      return;
    }
    if (elt.hasAttribute("data-composer")) {
      var clientId = elt.querySelector("[name=client_id]");
      if (!clientId.value) clientId.value = newClientId();
      params.client_id = clientId.value;
      setStatus("Sending…");
    } else {
      if (params.type === "react") {
        var picker = elt.closest("#reaction-picker");
        if (picker) {
          params.message = Number(picker.dataset.message);
          closePicker();
        }
        params.on = reactionOn(params.message, params.emoji);
      }
      params.client_id = newClientId();
      pendingAction = { clientId: params.client_id, kind: params.type };
    }
    if (!socketOpen(socket)) {
      event.preventDefault();
      if (event.detail.triggeringEvent) event.detail.triggeringEvent.preventDefault();
      var values = Object.assign({}, params, { seq: currentSeq() });
      htmx.ajax("POST", socket.dataset.fallbackUrl, { source: elt, values: values, swap: "none" });
    }
  });

  // Acknowledgements: data-stored carries the client_id of a stored send. The
  // composer empties only then; on any error the text stays, and a retry reuses
  // the client_id, so it is stored at most once.
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    if (!event.target || event.target.id !== "chat-error") return;
    var ack = event.target;
    var form = composerForm();
    var stored = ack.dataset.stored;
    if (stored === undefined) {
      // An error: nothing is being sent any more; show it where the user acted.
      setStatus("");
      var editor = document.getElementById("message-editor");
      if (editor && !editor.hidden && pendingAction && pendingAction.kind === "edit") {
        editor.querySelector(".edit-error").textContent = ack.textContent;
      }
      return;
    }
    if (form && stored === form.querySelector("[name=client_id]").value) {
      resetComposer(form);
      setStatus("");
    }
    if (pendingAction && stored === pendingAction.clientId) {
      if (pendingAction.kind === "edit") closeEditor();
      pendingAction = null;
    }
    ack.dataset.stored = "";
  });

  // A refused action (403, 422, 429) carries its reason as an out-of-band
  // #chat-error, swapped like any answer (responseHandling in base.html); this
  // is for the requests that got no answer to show.
  function fallbackFailed(event) {
    var source = event.detail && event.detail.elt;
    var error = document.getElementById("chat-error");
    if (!source || !source.closest || !source.closest("[data-chat-socket]") || !error) return;
    var history = source.matches("a.msg-act[hx-get]") && source.closest(".msg-main").querySelector(".msg-history");
    if (history) {
      // A message's earlier versions that did not come: said where they would have shown.
      var note = document.createElement("p");
      note.className = "error-text";
      note.setAttribute("role", "alert");
      note.textContent = "The earlier versions could not be loaded. Please try again.";
      history.replaceChildren(note);
      return;
    }
    if (source.closest("#older-sentinel") || source.matches(".msg-act")) return;
    if (source.hasAttribute("data-chat-socket")) {
      // A read mark (sendRead) is nobody's send: it says nothing, and goes
      // again once the socket is back.
      reading.sent = 0;
      return;
    }
    if (event.type === "htmx:sendError" && source.hasAttribute("data-composer")) {
      // The server is out of reach: the message waits, still "sending…", and
      // goes as soon as the socket is back.
      source.dataset.waiting = "1";
      return;
    }
    setStatus("");
    error.textContent = "Your message could not be sent right now. Please try again.";
  }
  document.addEventListener("htmx:responseError", fallbackFailed);
  document.addEventListener("htmx:sendError", fallbackFailed);

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if ((target.id === "composer-body" || target.id === "message-editor-body") && event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      target.form.requestSubmit();
    } else if (target.id === "message-editor-body" && event.key === "Escape") {
      closeEditor();
    }
  });

  // MESSAGES ARRIVING: drop ones already shown, put late ones in id order.

  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (!target) return;
    if (target.id === "chat-seq") {
      // Positions only move forward, whatever order frames were applied in.
      var incoming = event.detail.fragment.querySelector("#chat-seq");
      if (incoming && Number(incoming.dataset.seq) < currentSeq()) event.detail.shouldSwap = false;
      return;
    }
    var list = document.getElementById("messages");
    if (list && list.contains(target) && !list.dataset.stick) list.dataset.stick = nearBottom(list) ? "1" : "0";
    if (target.id !== "messages") return;
    var fragment = event.detail.fragment;
    Array.prototype.slice.call(fragment.children || fragment.childNodes).forEach(function (child) {
      if (!child.dataset || !child.dataset.id) return;
      if (document.getElementById(child.id)) {
        child.remove();
        return;
      }
      clearTypingOf(child.dataset.author);
      // Counted against where the reader is now, not the frame's remembered stickiness.
      if (!nearBottom(target) && Number(child.dataset.author) !== me) newBelow += 1;
      var id = Number(child.dataset.id);
      var later = articles(target).find(function (el) {
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

  // A typing note ends when that user's message arrives.
  function clearTypingOf(authorId) {
    var indicator = document.getElementById("typing-indicator");
    if (indicator && authorId && indicator.dataset.typingUser === authorId) {
      indicator.removeAttribute("data-typing-user");
      indicator.textContent = "";
    }
  }

  // Replies quoting a message follow what happened to it.
  function updateQuotes(article) {
    var quotes = document.querySelectorAll('.reply-quote[data-reply-to="' + article.dataset.id + '"] .reply-excerpt');
    var body = article.querySelector(".msg-body");
    Array.prototype.forEach.call(quotes, function (excerpt) {
      if (article.hasAttribute("data-deleted")) excerpt.textContent = "message deleted";
      else if (body) excerpt.textContent = body.textContent.trim().slice(0, 120);
    });
  }

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var signal = document.getElementById("resync-signal");
    if (signal && signal.hasAttribute("data-resync-now")) {
      signal.removeAttribute("data-resync-now");
      resyncPage();
    }
    var swapped = event.target;
    if (swapped && swapped.matches && swapped.matches("#messages > article[data-id]")) {
      updateQuotes(swapped);
      if (pendingAction && pendingAction.kind === "edit" && editorFor() === swapped.dataset.id) placeEditor(swapped);
    }
    var list = document.getElementById("messages");
    if (list && event.detail.target && event.detail.target.id === "messages") {
      if (list.dataset.stick === "1") list.scrollTop = list.scrollHeight;
      showNewBelow();
      renderReceipts();
    }
  });

  // After every frame or response that may have touched the list (appends fire
  // no oobAfterSwap of their own).
  function refreshList() {
    var list = document.getElementById("messages");
    if (!list || !list.dataset.stick) return;
    decorate(list);
    if (list.dataset.stick === "1") list.scrollTop = list.scrollHeight;
    showNewBelow();
    renderReceipts();
    delete list.dataset.stick;
  }
  document.addEventListener("htmx:wsAfterMessage", refreshList);
  document.addEventListener("htmx:afterRequest", refreshList);

  // READING: times in the viewer's zone, groups by author, a separator per day.

  function dayKey(date) {
    return date.getFullYear() + "-" + (date.getMonth() + 1) + "-" + date.getDate();
  }

  function dayLabel(date) {
    var today = new Date();
    var yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
    if (dayKey(date) === dayKey(today)) return "Today";
    if (dayKey(date) === dayKey(yesterday)) return "Yesterday";
    return date.toLocaleDateString(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
  }

  function relativeTime(date, now) {
    var seconds = Math.round((now - date) / 1000);
    if (seconds < 45) return "just now";
    var minutes = Math.round(seconds / 60);
    if (minutes < 60) return minutes + " min ago";
    return date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  }

  function showTimes(root) {
    var now = new Date();
    var socket = chatSocketElement();
    var windowSeconds = socket ? Number(socket.dataset.editWindow || 0) : 0;
    Array.prototype.forEach.call(root.querySelectorAll("time[datetime]"), function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) return;
      el.textContent = el.closest(".msg-versions") ? date.toLocaleString() : relativeTime(date, now);
      el.title = date.toLocaleString(undefined, { dateStyle: "full", timeStyle: "long" });
      var article = el.closest("article[data-id]");
      if (article && windowSeconds && now - date > windowSeconds * 1000) article.classList.add("msg-edit-closed");
    });
  }

  function decorate(list) {
    Array.prototype.forEach.call(list.querySelectorAll(":scope > .date-sep"), function (el) {
      el.remove();
    });
    var previous = null;
    articles(list).forEach(function (article) {
      var time = article.querySelector(".msg-time");
      var date = time ? new Date(time.getAttribute("datetime")) : null;
      var prevDate = previous && previous.date;
      if (date && (!prevDate || dayKey(date) !== dayKey(prevDate))) {
        var separator = document.createElement("div");
        separator.className = "date-sep";
        separator.setAttribute("role", "separator");
        separator.textContent = dayLabel(date);
        list.insertBefore(separator, article);
        prevDate = null;
      }
      var grouped = previous && prevDate && previous.article.dataset.author === article.dataset.author &&
        date - prevDate < GROUP_MINUTES * 60 * 1000;
      article.classList.toggle("msg-cont", Boolean(grouped));
      previous = { article: article, date: date };
    });
    showTimes(list);
  }

  setInterval(function () {
    var list = document.getElementById("messages");
    if (list) showTimes(list);
  }, 30 * 1000);

  // HISTORY: one page per scroll to the top, and the reading place kept.

  document.addEventListener("htmx:beforeSwap", function (event) {
    var source = event.detail.elt;
    if (!source || source.id !== "older-sentinel") return;
    var list = document.getElementById("messages");
    list.dataset.fromBottom = String(list.scrollHeight - list.scrollTop);
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var list = document.getElementById("messages");
    if (!list || list.dataset.fromBottom === undefined || !list.contains(event.target) && event.target !== list) return;
    decorate(list);
    list.scrollTop = list.scrollHeight - Number(list.dataset.fromBottom);
    delete list.dataset.fromBottom;
  });

  // ACTIONS ON A MESSAGE

  function articleOf(element) {
    return element.closest("#messages > article[data-id]");
  }

  function cancelReply() {
    var bar = document.getElementById("reply-bar");
    var form = composerForm();
    if (bar) bar.hidden = true;
    if (form && form.querySelector("[name=reply_to]")) form.querySelector("[name=reply_to]").value = "";
  }

  function startReply(article) {
    var form = composerForm();
    var bar = document.getElementById("reply-bar");
    form.querySelector("[name=reply_to]").value = article.dataset.id;
    document.getElementById("reply-bar-author").textContent = article.querySelector(".msg-author").textContent;
    var body = article.querySelector(".msg-body");
    document.getElementById("reply-bar-excerpt").textContent = body ? body.textContent.trim().slice(0, 80) : "";
    bar.hidden = false;
    form.querySelector("textarea").focus();
  }

  function editorFor() {
    var editor = document.getElementById("message-editor");
    return editor && !editor.hidden ? editor.querySelector("[name=message]").value : null;
  }

  function placeEditor(article) {
    var editor = document.getElementById("message-editor");
    article.after(editor);
  }

  function startEdit(article) {
    var editor = document.getElementById("message-editor");
    editor.querySelector("[name=message]").value = article.dataset.id;
    editor.querySelector("textarea").value = article.dataset.body || "";
    editor.querySelector(".edit-error").textContent = "";
    placeEditor(article);
    editor.hidden = false;
    editor.querySelector("textarea").focus();
  }

  function closeEditor() {
    var editor = document.getElementById("message-editor");
    var home = document.getElementById("chat-tools");
    if (!editor) return;
    editor.hidden = true;
    editor.querySelector("[name=message]").value = "";
    if (home) home.appendChild(editor);
  }

  function openPicker(article, button) {
    var picker = document.getElementById("reaction-picker");
    picker.dataset.message = article.dataset.id;
    article.after(picker);
    picker.hidden = false;
    var first = picker.querySelector("button");
    if (first) first.focus();
    button.setAttribute("aria-expanded", "true");
  }

  function closePicker() {
    var picker = document.getElementById("reaction-picker");
    var home = document.getElementById("chat-tools");
    if (!picker || picker.hidden) return;
    picker.hidden = true;
    if (home) home.appendChild(picker);
  }

  function jumpTo(id) {
    var target = document.getElementById("message-" + id);
    if (!target) return false;
    target.scrollIntoView({ block: "center" });
    target.classList.remove("msg-highlight");
    void target.offsetWidth; // restart the highlight animation
    target.classList.add("msg-highlight");
    return true;
  }

  document.addEventListener("click", function (event) {
    var quote = event.target.closest(".reply-quote");
    if (quote) {
      // In the page: jump there. Not loaded: the link opens the room at it.
      if (jumpTo(quote.dataset.replyTo)) event.preventDefault();
      return;
    }
    var button = event.target.closest("[data-act]");
    if (!button) {
      if (!event.target.closest("#reaction-picker")) closePicker();
      return;
    }
    var act = button.dataset.act;
    var article = articleOf(button);
    if (act === "cancel-reply") return cancelReply();
    if (act === "cancel-edit") return closeEditor();
    if (!article) return;
    if (act === "reply") startReply(article);
    else if (act === "edit") startEdit(article);
    else if (act === "react") openPicker(article, button);
    else if (act === "delete") {
      var question = "Delete this message for everyone?";
      var go = function () {
        var deleter = document.getElementById("message-deleter");
        deleter.querySelector("[name=message]").value = article.dataset.id;
        deleter.requestSubmit();
      };
      if (!messageBox(question, { title: "Please confirm", cancel: true }, go) && window.confirm(question)) go();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closePicker();
  });

  // OTHER PAGES

  // A live card for an item the page does not show yet goes to its list.
  // A list filtered by game or status takes only new cards that match; one
  // narrowed by a search takes none (the server decides what matches).
  function listAccepts(list, card) {
    var game = list.dataset.gameFilter;
    var status = list.dataset.statusFilter;
    if (list.dataset.search) return false;
    return (!game || card.dataset.game === game) && (!status || card.dataset.status === status);
  }

  function upsert(element) {
    var into = element && element.getAttribute("data-upsert-into");
    var list = into && document.querySelector(into);
    if (!list || !listAccepts(list, element)) return;
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
  var baseTitle = document.title.replace(/^\(\d+\+?\) /, "");
  var shownMax = Infinity; // from #unread-state: where badges say "99+"
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
    if (element && element.dataset.shownMax) shownMax = Number(element.dataset.shownMax);
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
        mention.textContent = "@" + label(shown.mentions);
        mention.hidden = !shown.mentions;
        unread.textContent = label(shown.unread);
        unread.hidden = !shown.unread;
      });
    });
    var totalBadge = document.getElementById("unread-total");
    if (totalBadge) {
      totalBadge.textContent = label(total);
      totalBadge.hidden = !total;
    }
    document.title = (total ? "(" + label(total) + ") " : "") + baseTitle;
  }

  // As the server labels them (unread_tags.unread_label).
  function label(count) {
    return count > shownMax ? shownMax + "+" : String(count);
  }

  var notified = new Set(); // message ids this page has told its user about
  function onActivity(item) {
    var key = item.dataset.room;
    var id = Number(item.dataset.message);
    var room = rooms[key];
    if (!room || Number(item.dataset.author) === me) return;
    var mentioned = (item.dataset.mentions || "").split(" ").indexOf(String(me)) >= 0;
    if (item.hasAttribute("data-late")) {
      // A room this page just started to follow: its newest message is in the
      // counts already, and may only still be told (once, unless it is read).
      if (id <= room.pointer) return;
    } else {
      if (id <= room.as_of || id <= room.pointer || room.live.has(id)) return;
      room.live.set(id, mentioned);
      renderBadges();
    }
    if (notified.has(id)) return;
    notified.add(id);
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
    if (chatWrapper && socket && socket.dataset.state === "open") {
      chatWrapper.send(JSON.stringify({ type: "read", through: through }));
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
      var show = function () {
        divider.scrollIntoView({ block: "start" });
      };
      show();
      // The list's own after-request handling may still scroll to the bottom once.
      setTimeout(show, 300);
      hideJump();
      return;
    }
    var older = document.getElementById("older-sentinel");
    if (!older || !list || attempts <= 0) return;
    // An older page is not news: the list must not stick to the bottom after it.
    delete list.dataset.stick;
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
    if (list) {
      decorate(list);
      var wanted = /^#message-(\d+)$/.exec(window.location.hash);
      if (!(wanted && jumpTo(wanted[1]))) list.scrollTop = list.scrollHeight;
    }
    var composer = document.querySelector("[data-composer] [name=client_id]");
    if (composer) composer.value = newClientId();
    startReading();
    loadState(document.getElementById("unread-state"));
    renderReceipts();
  });
})();
