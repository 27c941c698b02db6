// The notification settings page (/settings/notifications/): desktop
// notifications in this browser (boostroom.js shows them while a tab is hidden)
// and Web Push (static/js/push-worker.js shows those while no page is open).
(function () {
  "use strict";

  var DESKTOP_KEY = "boostroom-desktop-notifications"; // boostroom.js reads the same key

  // The settings page: desktop notifications (this browser) and Web Push.
  function setup() {
    var section = document.getElementById("browser-notifications");
    if (!section) return;
    var desktop = section.querySelector("[data-desktop-toggle]");
    var desktopStatus = section.querySelector("[data-desktop-status]");
    function showDesktop() {
      var supported = "Notification" in window;
      var on = supported && Notification.permission === "granted" && localStorage.getItem(DESKTOP_KEY) === "on";
      desktop.textContent = on ? "Stop desktop notifications" : "Show desktop notifications while this tab is hidden";
      desktopStatus.textContent = !supported
        ? "This browser has no notifications."
        : Notification.permission === "denied"
          ? "Blocked in the browser's site settings."
          : on
            ? "On in this browser."
            : "Off in this browser.";
    }
    desktop.addEventListener("click", function () {
      if (!("Notification" in window)) return;
      if (localStorage.getItem(DESKTOP_KEY) === "on") {
        localStorage.removeItem(DESKTOP_KEY);
        showDesktop();
        return;
      }
      Notification.requestPermission().then(function (permission) {
        if (permission === "granted") localStorage.setItem(DESKTOP_KEY, "on");
        showDesktop();
      });
    });
    showDesktop();
    setupPush(section);
  }

  function csrfHeaders() {
    var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    headers["Content-Type"] = "application/json";
    return headers;
  }

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(padded), function (c) {
      return c.charCodeAt(0);
    });
  }

  function setupPush(section) {
    var button = section.querySelector("[data-push-toggle]");
    var status = section.querySelector("[data-push-status]");
    if (!button || !("serviceWorker" in navigator) || !("PushManager" in window)) {
      if (status) status.textContent = "This browser has no push notifications.";
      return;
    }
    var registration = navigator.serviceWorker.register(section.dataset.workerUrl);
    function show(subscription) {
      button.textContent = subscription ? "Stop push notifications here" : "Send push notifications here while I am away";
      status.textContent = subscription ? "On in this browser." : "Off in this browser.";
    }
    registration.then(function (reg) {
      return reg.pushManager.getSubscription();
    }).then(show);
    button.addEventListener("click", function () {
      registration.then(function (reg) {
        return reg.pushManager.getSubscription().then(function (existing) {
          if (existing) {
            return fetch(section.dataset.unpushUrl, {
              method: "POST",
              headers: csrfHeaders(),
              body: JSON.stringify({ endpoint: existing.endpoint }),
            }).then(function () {
              return existing.unsubscribe();
            }).then(function () {
              show(null);
            });
          }
          return reg.pushManager
            .subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(section.dataset.vapidKey) })
            .then(function (subscription) {
              return fetch(section.dataset.pushUrl, {
                method: "POST",
                headers: csrfHeaders(),
                body: JSON.stringify(subscription.toJSON()),
              }).then(function () {
                show(subscription);
              });
            });
        });
      }).catch(function () {
        status.textContent = "Push notifications could not be turned on here.";
      });
    });
  }

  document.addEventListener("DOMContentLoaded", setup);
})();
