// The waiting modal: follows the login attempt over one EventSource and
// finishes the login the moment the phone approves. No polling: the server
// pushes every change, and the browser's own reconnect covers dropped links.
"use strict";

(() => {
  const modal = document.getElementById("waiting");
  if (!modal) return;

  const title = modal.querySelector('[data-role="title"]');
  const statusText = modal.querySelector('[data-role="status"]');
  const numberMatch = modal.querySelector('[data-role="number-match"]');
  const spinner = modal.querySelector('[data-role="spinner"]');
  const next = modal.querySelector('[data-role="next"]');
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrfToken = csrfMeta ? csrfMeta.content : "";

  // What to do on the phone depends on number matching; the page says it.
  const pendingText = statusText.textContent.replace(/\s+/g, " ").trim();

  // A final state replaces the heading and the number to pick: neither
  // applies any more, and a red line under "Approve" would contradict them.
  const TITLES = {
    approved: "Approved",
    replaced: "This request was replaced",
    denied: "The login was denied",
    expired: "The request expired",
    unknown: "This login cannot finish here",
    lost: "This login cannot finish here",
    failed: "This login cannot finish here",
  };

  const MESSAGES = {
    pending: pendingText,
    approved: "Approved on your phone. Signing you in…",
    replaced:
      "A newer login replaced this request on your phone; use a code to finish " +
      "this one.",
    denied:
      "The login was denied on your phone. If you tapped Deny by mistake, use a " +
      "code, or log in again to send a new request.",
    expired:
      "The request expired before your phone answered. Log in again to send a new one.",
    unknown: "This login can no longer be completed. Log in again.",
    lost: "Lost contact with the server. Log in again to send a new request.",
  };

  let finished = false;
  // Set once a newer login withdrew this one's push: the phone no longer
  // shows it, but the stream stays open (an answer given just before still
  // counts) and a code can finish this login.
  let replaced = false;

  function show(state, text) {
    modal.dataset.state = state;
    statusText.textContent = text;
    if (state === "pending" || state === "connecting") return;
    const heading = TITLES[state] || TITLES.unknown;
    title.textContent = heading;
    document.title = heading + " · pushgate";
    if (numberMatch) numberMatch.hidden = true;
  }

  function stop(state, text) {
    finished = true;
    source.close();
    show(state, text);
    spinner.hidden = true;
    next.hidden = false;
  }

  async function complete() {
    finished = true;
    source.close();
    show("approved", MESSAGES.approved);
    let body = null;
    try {
      const response = await fetch(modal.dataset.completeUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrfToken, Accept: "application/json" },
      });
      body = await response.json();
    } catch (error) {
      body = null;
    }
    if (body && body.ok) {
      window.location.assign(body.next || modal.dataset.nextUrl);
      return;
    }
    const message = body && body.message ? body.message : MESSAGES.lost;
    stop((body && body.status) || "failed", message);
  }

  const source = new EventSource(modal.dataset.statusUrl);

  function showReplaced() {
    replaced = true;
    show("replaced", MESSAGES.replaced);
    spinner.hidden = true;
    next.hidden = false;
  }

  source.addEventListener("open", () => {
    if (!finished && !replaced) show("pending", MESSAGES.pending);
  });

  source.addEventListener("authy_status", (event) => {
    if (finished) return;
    let status = "unknown";
    let data = {};
    try {
      data = JSON.parse(event.data);
      status = data.status;
    } catch (error) {
      status = "unknown";
    }
    if (status === "pending" && data.replaced === true) {
      showReplaced();
    } else if (status === "pending") {
      if (!replaced) show("pending", MESSAGES.pending);
    } else if (status === "approved") {
      complete();
    } else {
      stop(status in MESSAGES ? status : "unknown", MESSAGES[status] || MESSAGES.unknown);
    }
  });

  source.addEventListener("error", () => {
    // While CONNECTING the browser retries by itself after the server's
    // retry hint; CLOSED means the server refused the stream for good.
    if (!finished && source.readyState === EventSource.CLOSED) {
      stop("lost", MESSAGES.lost);
    }
  });

  window.addEventListener("pagehide", () => source.close());
})();
