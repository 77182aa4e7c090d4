// The authenticator pages: enroll this browser, then answer sign-in requests.
//
// The browser's device key is an ECDSA P-256 key pair made by WebCrypto with
// extractable=false, kept in IndexedDB: the page can sign with it but nothing,
// not even this script, can read the private key out. An answer is signed
// over "pushgate-answer|uuid|status|device_id|signed_at"; WebCrypto returns
// the raw r||s signature, sent as base64.
//
// Requests arrive live through an EventSource on /authenticator/api/events.
// Every POST carries the page's CSRF token (meta csrf-token) in X-CSRF-Token.
(function () {
  "use strict";

  var DB_NAME = "pushgate-authenticator";
  var KEY_ID = "device-key";
  var encoder = new TextEncoder();

  // --- IndexedDB -------------------------------------------------------------

  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () {
        var db = request.result;
        if (!db.objectStoreNames.contains("keys")) db.createObjectStore("keys");
        if (!db.objectStoreNames.contains("accounts")) db.createObjectStore("accounts");
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function withStore(name, mode, action) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var transaction = db.transaction(name, mode);
        var request = action(transaction.objectStore(name));
        transaction.oncomplete = function () { db.close(); resolve(request && request.result); };
        transaction.onerror = function () { db.close(); reject(transaction.error); };
      });
    });
  }

  function dbGet(store, key) {
    return withStore(store, "readonly", function (s) { return s.get(key); });
  }

  function dbPut(store, key, value) {
    return withStore(store, "readwrite", function (s) { return s.put(value, key); });
  }

  // --- the device key --------------------------------------------------------

  function subtle() {
    if (!window.crypto || !window.crypto.subtle) {
      throw new Error("This browser cannot make a device key here: open the page " +
        "over HTTPS (or on localhost).");
    }
    return window.crypto.subtle;
  }

  function deviceKey() {
    return dbGet("keys", KEY_ID).then(function (pair) {
      if (pair && pair.privateKey && pair.publicKey) return pair;
      return subtle().generateKey(
        { name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]
      ).then(function (created) {
        return dbPut("keys", KEY_ID, created).then(function () { return created; });
      });
    });
  }

  function base64(buffer) {
    var bytes = new Uint8Array(buffer);
    var text = "";
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text);
  }

  function publicKeyBase64(pair) {
    return subtle().exportKey("spki", pair.publicKey).then(base64);
  }

  // A request with a number to match is approved by picking that number;
  // the pick (and a report) is part of what the key signs.
  function signAnswer(uuid, status, deviceId, picked, report) {
    var signedAt = Math.floor(Date.now() / 1000);
    var fields = ["pushgate-answer", uuid, status, deviceId, signedAt];
    var extended = picked !== null || report;
    if (extended) {
      fields.push(picked === null ? "" : String(picked), report ? "report" : "");
    }
    return deviceKey().then(function (pair) {
      return subtle().sign(
        { name: "ECDSA", hash: "SHA-256" }, pair.privateKey,
        encoder.encode(fields.join("|")));
    }).then(function (signature) {
      var body = { uuid: uuid, status: status, device_id: deviceId,
        signed_at: signedAt, signature: base64(signature) };
      if (extended) {
        body.picked_number = picked;
        body.report = report;
      }
      return body;
    });
  }

  // --- talking to the service ------------------------------------------------

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }

  function storeAccounts(accounts) {
    return accounts.reduce(function (done, account) {
      return done.then(function () { return dbPut("accounts", account.device_id, account); });
    }, Promise.resolve());
  }

  function role(name, root) {
    return (root || document).querySelector('[data-role="' + name + '"]');
  }

  function say(text) {
    var status = role("status");
    if (status) status.textContent = text;
  }

  function fail(message) {
    var error = role("error");
    if (error) {
      error.textContent = message;
      error.hidden = false;
    }
    var retry = role("retry");
    if (retry) retry.hidden = false;
  }

  // --- enroll with a link ----------------------------------------------------

  function enrollWithLink() {
    var token = window.location.hash.replace(/^#/, "");
    // The token is spent once used; keep it out of history and bookmarks.
    history.replaceState(null, "", window.location.pathname);
    if (!token) {
      say("");
      fail("This link has no enrollment token. Open the whole link from your account page.");
      return;
    }
    deviceKey().then(publicKeyBase64).then(function (publicKey) {
      say("Registering this phone…");
      return post("/authenticator/api/devices", { token: token, public_key: publicKey });
    }).then(function (result) {
      if (!result.ok) throw new Error(result.data.message || "Enrollment failed.");
      return storeAccounts(result.data.accounts || []);
    }).then(function () {
      say("This phone is enrolled.");
      window.location.replace("/authenticator/");
    }).catch(function (error) {
      say("");
      fail(error.message);
    });
  }

  // --- enroll with a phone number -------------------------------------------

  function enrollWithPhone() {
    var phoneForm = role("phone-form");
    var codeForm = role("code-form");
    var phone = null;

    phoneForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = new FormData(phoneForm);
      phone = {
        country_code: String(data.get("country_code") || "").trim(),
        phone_number: String(data.get("phone_number") || "").trim()
      };
      post("/authenticator/api/phone/start", {
        country_code: phone.country_code, phone_number: phone.phone_number,
        via: data.get("via")
      }).then(function (result) {
        if (!result.ok) throw new Error(result.data.message || "Sending failed.");
        say(result.data.message);
        codeForm.hidden = false;
        codeForm.querySelector("input[name=code]").focus();
      }).catch(function (error) { fail(error.message); });
    });

    codeForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var code = String(new FormData(codeForm).get("code") || "").trim();
      deviceKey().then(publicKeyBase64).then(function (publicKey) {
        return post("/authenticator/api/phone/devices", {
          country_code: phone.country_code, phone_number: phone.phone_number,
          code: code, public_key: publicKey
        });
      }).then(function (result) {
        if (!result.ok) throw new Error(result.data.message || "Enrollment failed.");
        return storeAccounts(result.data.accounts || []);
      }).then(function () {
        window.location.replace("/authenticator/");
      }).catch(function (error) { fail(error.message); });
    });
  }

  // --- pending requests, live -----------------------------------------------

  function formatSeconds(total) {
    var seconds = Math.max(0, Math.floor(total));
    var hours = Math.floor(seconds / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    var rest = seconds % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return (hours ? hours + ":" + pad(minutes) : String(minutes)) + ":" + pad(rest);
  }

  function fillDetails(list, details) {
    list.textContent = "";
    Object.keys(details || {}).forEach(function (key) {
      var value = details[key];
      var dt = document.createElement("dt");
      var dd = document.createElement("dd");
      dt.textContent = key;
      dd.textContent = value !== null && typeof value === "object"
        ? JSON.stringify(value) : String(value);
      list.appendChild(dt);
      list.appendChild(dd);
    });
  }

  function requestsPage() {
    var list = role("requests");
    var template = role("request-template");
    var shown = {};          // uuid -> {element, deadline}
    var source = null;

    function answer(item, request, status, picked, report) {
      var buttons = item.querySelectorAll("button");
      buttons.forEach(function (button) { button.disabled = true; });
      // The stream may drop the request before this answer's reply arrives;
      // a state keeps the item (and its result) in view a moment longer.
      item.setAttribute("data-state", "sending");
      signAnswer(request.uuid, status, request.device_id, picked, report)
        .then(function (body) {
          return post("/authenticator/api/answers", body);
        }).then(function (result) {
          var text = item.querySelector('[data-field="result"]');
          if (result.ok) {
            var final = result.data.status || status;
            item.setAttribute("data-state", final);
            text.textContent = final === "approved" ? "Approved" :
              report ? "Denied and reported. Pushes are paused for a while." :
              result.data.flagged ? "Denied: that was not the number on the " +
                "sign-in page. If you are not signing in, someone may know " +
                "your password." : "Denied";
          } else {
            item.setAttribute("data-state", "refused");
            text.textContent = result.data.message || "The answer was refused.";
          }
        }).catch(function (error) {
          item.setAttribute("data-state", "refused");
          item.querySelector('[data-field="result"]').textContent = error.message;
          buttons.forEach(function (button) { button.disabled = false; });
        });
    }

    function addNumbers(item, request) {
      var choices = request.number_choices;
      if (!choices || !choices.length) return;
      item.setAttribute("data-numbers", "");
      item.querySelector('[data-field="numbers"]').hidden = false;
      var target = item.querySelector('[data-field="choices"]');
      choices.forEach(function (number) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "button";
        button.textContent = String(number);
        button.setAttribute("data-number", String(number));
        button.addEventListener("click", function () {
          answer(item, request, "approved", number, false);
        });
        target.appendChild(button);
      });
    }

    function addRequest(request) {
      var item = template.content.firstElementChild.cloneNode(true);
      item.setAttribute("data-uuid", request.uuid);
      item.querySelector('[data-field="app_name"]').textContent = request.app_name;
      item.querySelector('[data-field="message"]').textContent = request.message;
      fillDetails(item.querySelector('[data-field="details"]'), request.details);
      addNumbers(item, request);
      item.querySelectorAll("[data-action]").forEach(function (button) {
        button.addEventListener("click", function () {
          var action = button.getAttribute("data-action");
          if (action === "report") answer(item, request, "denied", null, true);
          else answer(item, request, action, null, false);
        });
      });
      list.appendChild(item);
      return item;
    }

    function render(state) {
      var now = performance.now();
      var present = {};
      state.requests.forEach(function (request) {
        present[request.uuid] = true;
        var entry = shown[request.uuid];
        if (!entry) {
          entry = shown[request.uuid] = { element: addRequest(request) };
        }
        entry.deadline = now + request.seconds_left * 1000;
      });
      Object.keys(shown).forEach(function (uuid) {
        var entry = shown[uuid];
        if (present[uuid]) return;
        // Answered here: leave the result in view a moment, then tidy up.
        if (entry.element.getAttribute("data-state")) {
          window.setTimeout(function () { entry.element.remove(); }, 4000);
        } else {
          entry.element.remove();
        }
        delete shown[uuid];
      });
      renderAccounts(state.accounts);
      tick();
    }

    function tick() {
      var now = performance.now();
      var visible = 0;
      Object.keys(shown).forEach(function (uuid) {
        var entry = shown[uuid];
        var left = (entry.deadline - now) / 1000;
        var countdown = entry.element.querySelector('[data-field="countdown"]');
        if (left <= 0 && !entry.element.getAttribute("data-state")) {
          entry.element.remove();
          delete shown[uuid];
          return;
        }
        countdown.textContent = formatSeconds(left);
        visible += 1;
      });
      role("empty").hidden = visible > 0;
    }

    var boundAccounts = {};
    function renderAccounts(accounts) {
      var section = role("accounts-section");
      var target = role("accounts");
      accounts.forEach(function (account) {
        if (boundAccounts[account.device_id]) return;
        boundAccounts[account.device_id] = true;
        dbGet("accounts", account.device_id).then(function (stored) {
          var item = document.createElement("li");
          item.className = "auth-account";
          var name = document.createElement("strong");
          name.textContent = account.app_name + " · " + account.email;
          item.appendChild(name);
          if (stored && stored.totp && window.pushgateTotp) {
            var output = document.createElement("output");
            output.className = "auth-account-code";
            output.id = "totp-" + account.device_id;
            output.setAttribute("data-pushgate-totp", stored.totp.secret);
            output.setAttribute("data-digits", String(stored.totp.digits));
            output.setAttribute("data-period", String(stored.totp.period));
            var left = document.createElement("span");
            left.className = "auth-account-left";
            left.setAttribute("data-pushgate-totp-left", output.id);
            item.appendChild(output);
            item.appendChild(left);
            window.pushgateTotp.bind(output);
          }
          target.appendChild(item);
          section.hidden = false;
        });
      });
    }

    function notEnrolled() {
      say("");
      role("not-enrolled").hidden = false;
      role("empty").hidden = true;
    }

    function connect() {
      source = new EventSource("/authenticator/api/events");
      source.addEventListener("open", function () { say("Waiting for requests."); });
      source.addEventListener("requests", function (event) {
        say("Waiting for requests.");
        render(JSON.parse(event.data));
      });
      source.addEventListener("revoked", function () {
        source.close();
        notEnrolled();
      });
      source.addEventListener("error", function () {
        if (source.readyState !== EventSource.CLOSED) {
          say("Connection lost; reconnecting…");
          return;
        }
        // Closed for good: find out whether this browser is still enrolled.
        fetch("/authenticator/api/requests", { credentials: "same-origin" })
          .then(function (response) {
            if (response.status === 401) {
              notEnrolled();
            } else {
              say("Connection lost; reconnecting…");
              window.setTimeout(connect, 3000);
            }
          }, function () { window.setTimeout(connect, 3000); });
      });
    }

    window.setInterval(tick, 1000);
    connect();
  }

  function start() {
    var page = document.querySelector("[data-authenticator-page]");
    if (!page) return;
    var kind = page.getAttribute("data-authenticator-page");
    try {
      if (kind === "enroll") enrollWithLink();
      else if (kind === "phone") enrollWithPhone();
      else if (kind === "requests") requestsPage();
    } catch (error) {
      fail(error.message);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
