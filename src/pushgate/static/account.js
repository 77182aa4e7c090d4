// The enrollment page: a "Copy link" button for the enrollment link, shown
// only where the clipboard can be used, and one EventSource that tells the
// page when the phone has enrolled, so it moves on to the account page (where
// the recovery codes are). No polling: the server pushes the change.
"use strict";

(() => {
  const button = document.querySelector("[data-copy-link]");
  if (button && navigator.clipboard) {
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
  }

  const enrollment = document.querySelector('[data-role="enrollment"]');
  if (!enrollment || !window.EventSource) return;
  const status = enrollment.querySelector('[data-role="enroll-status"]');
  const newLink = document.querySelector('[data-role="new-link"]');
  const source = new EventSource(enrollment.dataset.eventsUrl);

  source.addEventListener("enrolled", () => {
    source.close();
    status.textContent = "Your phone is enrolled. Opening your account…";
    window.location.assign(enrollment.dataset.nextUrl);
  });

  source.addEventListener("expired", () => {
    source.close();
    enrollment.dataset.state = "expired";
    status.textContent = "This link has expired; make a new one.";
    if (newLink) newLink.hidden = false;
  });

  source.addEventListener("error", () => {
    // CLOSED: the server has no link waiting here any more (made elsewhere or
    // used); the person can still go on by the links on the page.
    if (source.readyState === EventSource.CLOSED && newLink) newLink.hidden = false;
  });

  window.addEventListener("pagehide", () => source.close());
})();
