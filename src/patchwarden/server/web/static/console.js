// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  var root = document.documentElement;
  var saved = null;
  try { saved = localStorage.getItem("patchwarden-theme"); } catch (e) { /* private mode */ }
  if (saved === "light" || saved === "dark") { root.setAttribute("data-theme", saved); }
  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.querySelector("[data-theme-toggle]");
    if (toggle) {
      toggle.addEventListener("click", function () {
        var dark = root.getAttribute("data-theme") === "dark" ||
          (!root.getAttribute("data-theme") && window.matchMedia("(prefers-color-scheme: dark)").matches);
        var next = dark ? "light" : "dark";
        root.setAttribute("data-theme", next);
        try { localStorage.setItem("patchwarden-theme", next); } catch (e) { /* ignore */ }
      });
    }
    // live sections: <section data-refresh="5"> is reloaded every N seconds
    document.querySelectorAll("[data-refresh]").forEach(function (section) {
      var seconds = Math.max(2, parseInt(section.getAttribute("data-refresh"), 10) || 5);
      window.setInterval(function () {
        if (document.hidden) { return; }
        fetch(window.location.href, { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) {
            if (!html || !section.id) { return; }
            var doc = new DOMParser().parseFromString(html, "text/html");
            var fresh = doc.getElementById(section.id);
            if (fresh) { section.innerHTML = fresh.innerHTML; }
          })
          .catch(function () { /* keep the last view */ });
      }, seconds * 1000);
    });
  });
})();
