// The console's only script: the login page asks every few seconds whether the QR code was
// scanned, and goes on when it was; an expert's score sheet shows the running total of its
// items (the server adds them up itself). Everything else is plain forms and links.
(function () {
  "use strict";
  var form = document.querySelector("form[data-sum]");
  var out = form && form.querySelector("[data-total]");
  if (!out) { return; }
  var items = form.querySelectorAll("[data-item]");
  function total() {
    var sum = 0;
    for (var i = 0; i < items.length; i++) {
      var v = parseFloat(items[i].value);
      if (!isNaN(v)) { sum += v; }
    }
    out.textContent = String(Math.round(sum * 100) / 100);
  }
  form.addEventListener("input", total);
  total();
})();
(function () {
  "use strict";
  var box = document.querySelector("[data-poll]");
  if (!box) { return; }
  var url = box.getAttribute("data-poll");
  var every = parseInt(box.getAttribute("data-poll-ms"), 10) || 2000;
  var status = document.getElementById("login-status");
  function say(id) {
    var tpl = document.getElementById(id);
    if (tpl && status) { status.textContent = tpl.innerHTML; }
  }
  function tick() {
    fetch(url, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (body.status === "ok") { say("msg-ok"); window.location.assign(body.next || "/console/"); return; }
        if (body.status === "denied") { say("msg-denied"); return; }
        if (body.status === "expired" || body.status === "unknown" || body.status === "forbidden") {
          say("msg-expired"); return;
        }
        setTimeout(tick, every);
      })
      .catch(function () { setTimeout(tick, every * 2); });
  }
  setTimeout(tick, every);
})();
