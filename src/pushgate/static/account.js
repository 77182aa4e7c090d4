// The account page: a "Copy link" button for the enrollment link, shown only
// where the clipboard can be used.
"use strict";

(() => {
  const button = document.querySelector("[data-copy-link]");
  if (!button || !navigator.clipboard) return;
  const result = document.querySelector('[data-role="copy-result"]');

  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(button.dataset.link);
      result.textContent = "Copied.";
    } catch (error) {
      result.textContent = "Could not copy; select the link and copy it by hand.";
    }
  });
})();
