// Live parts of the dashboard: an element with data-live="<url>" is refreshed from that URL
// (an HTML fragment the server renders) every data-every ms, without reloading the page.
// data-reload-when-final: reload once the fragment says the task ended (player, downloads).
"use strict";
(function () {
  const state = document.getElementById("live-state");
  const login = document.body.dataset.login;

  function mark(ok) {
    if (!state) return;
    state.hidden = false;
    state.classList.toggle("stale", !ok);
    state.textContent = ok ? "live" : "offline";
  }

  async function refresh(el) {
    // Leave the element alone while the tab is hidden or someone reads an expanded row.
    if (document.hidden || el.querySelector("details[open]")) return;
    let response;
    try {
      response = await fetch(el.dataset.live, {
        headers: { "X-Emulator-UI": "fetch" },
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch (err) {
      mark(false);
      return;
    }
    if (response.status === 401) {
      window.location.href = login + "?next=" + encodeURIComponent(location.pathname + location.search);
      return;
    }
    if (!response.ok) { mark(false); return; }
    const html = await response.text();
    mark(true);
    if (html !== el.dataset.last) {
      el.innerHTML = html;
      el.dataset.last = html;
    }
    if ("reloadWhenFinal" in el.dataset && el.querySelector('[data-final="true"]')) {
      window.location.reload();
    }
  }

  function watch(el) {
    const every = Math.max(250, Number(el.dataset.every) || 1000);
    let busy = false;
    const tick = async () => {
      if (busy) return;
      busy = true;
      try { await refresh(el); } finally { busy = false; }
    };
    setInterval(tick, every);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) tick(); });
  }

  const live = document.querySelectorAll("[data-live]");
  live.forEach(watch);
  if (live.length) mark(true);
})();

// Objects, snapshots and inbox pages: a form with data-confirm="<question>" asks before it posts
// (restoring or deleting a snapshot, clearing an inbox cannot be undone).
(function () {
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
})();

// Acting on tasks (control/ui_actions.py): a button with data-copy="<id>" copies that
// element's text; one with data-fill="<id>" data-value="..." puts the value in that input.
(function () {
  document.addEventListener("click", (event) => {
    const copy = event.target.closest("button[data-copy]");
    if (copy) {
      const text = document.getElementById(copy.dataset.copy).textContent;
      const said = (label) => { copy.textContent = label; setTimeout(() => { copy.textContent = "Copy"; }, 1500); };
      // The Clipboard API needs a secure context (127.0.0.1 and localhost are).
      if (navigator.clipboard) navigator.clipboard.writeText(text).then(() => said("Copied"), () => said("Copy failed"));
      else said("Select and copy");
      return;
    }
    const fill = event.target.closest("button[data-fill]");
    if (fill) {
      const input = document.getElementById(fill.dataset.fill);
      input.value = fill.dataset.value;
      input.focus();
    }
  });
})();
