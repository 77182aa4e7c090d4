// The code login page: after a text or call, the send buttons stay disabled
// for the cooldown the server set (data-cooldown, in seconds) and show the
// seconds left, then come back. The server enforces the same wait.
"use strict";

(() => {
  const form = document.querySelector('[data-form="send-code"]');
  if (!form) return;

  const buttons = form.querySelectorAll("button[type=submit]");
  const line = form.querySelector('[data-role="cooldown"]');
  const seconds = form.querySelector('[data-role="cooldown-seconds"]');
  const until = Date.now() + Number(form.dataset.cooldown || 0) * 1000;

  function setDisabled(disabled) {
    buttons.forEach((button) => {
      button.disabled = disabled;
    });
  }

  function tick() {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0) {
      setDisabled(false);
      if (line) line.hidden = true;
      return;
    }
    setDisabled(true);
    if (line) line.hidden = false;
    if (seconds) seconds.textContent = String(left);
    window.setTimeout(tick, 250);
  }

  tick();

  // One click sends one code: a second click while the page loads does not.
  form.addEventListener("submit", (event) => {
    const via = event.submitter ? event.submitter.value : "";
    window.setTimeout(() => setDisabled(true), 0);
    if (via) form.dataset.sending = via;
  });
})();
