// Time-based one-time passwords (RFC 6238) in the browser, with WebCrypto.
//
// The authenticator page shows the same rolling code an authenticator app
// would, from the user's base32 secret:
//
//   await window.pushgateTotp.code("JBSWY3DPEHPK3PXP", Date.now())   // "123456"
//   window.pushgateTotp.secondsLeft(Date.now())                        // 1..30
//
// or, with no script of its own, an element carrying the secret:
//
//   <output data-pushgate-totp="BASE32SECRET" data-digits="6" data-period="30">
//
// is filled with the current code, refreshed at each new step; an element
// with data-pushgate-totp-left="ID-of-that-output" shows the seconds left.
// WebCrypto exists only in secure contexts (HTTPS, or http://localhost).
(function () {
  "use strict";

  var ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

  function base32Decode(text) {
    var clean = String(text).replace(/[\s=-]/g, "").toUpperCase();
    var bytes = [];
    var buffer = 0;
    var bits = 0;
    for (var i = 0; i < clean.length; i++) {
      var value = ALPHABET.indexOf(clean.charAt(i));
      if (value < 0) {
        throw new Error("The TOTP secret has '" + clean.charAt(i) +
          "', which is not base32; use A-Z and 2-7.");
      }
      buffer = (buffer << 5) | value;
      bits += 5;
      if (bits >= 8) {
        bits -= 8;
        bytes.push((buffer >>> bits) & 0xff);
      }
    }
    return new Uint8Array(bytes);
  }

  function counterBytes(counter) {
    // Eight bytes, big-endian; JavaScript numbers are exact up to 2^53.
    var bytes = new Uint8Array(8);
    var view = new DataView(bytes.buffer);
    view.setUint32(0, Math.floor(counter / 4294967296));
    view.setUint32(4, counter % 4294967296);
    return bytes;
  }

  function subtle() {
    var api = window.crypto && window.crypto.subtle;
    if (!api) {
      throw new Error("WebCrypto is missing: open this page over HTTPS " +
        "(or on localhost) to see codes.");
    }
    return api;
  }

  // RFC 4226: the code for one counter value.
  async function hotp(keyBytes, counter, digits) {
    var key = await subtle().importKey(
      "raw", keyBytes, { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
    var mac = new Uint8Array(
      await subtle().sign("HMAC", key, counterBytes(counter)));
    var offset = mac[mac.length - 1] & 0x0f;
    var value = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) |
      (mac[offset + 2] << 8) | mac[offset + 3];
    var code = String(value % Math.pow(10, digits));
    while (code.length < digits) {
      code = "0" + code;
    }
    return code;
  }

  function step(nowMs, period) {
    return Math.floor(nowMs / 1000 / (period || 30));
  }

  // RFC 6238: the code at nowMs (default: now).
  function code(secretBase32, nowMs, options) {
    var opts = options || {};
    var digits = opts.digits || 6;
    var period = opts.period || 30;
    var when = nowMs === undefined ? Date.now() : nowMs;
    try {
      return hotp(base32Decode(secretBase32), step(when, period), digits);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  function secondsLeft(nowMs, period) {
    var seconds = period || 30;
    var when = nowMs === undefined ? Date.now() : nowMs;
    return seconds - Math.floor(when / 1000) % seconds;
  }

  function bind(element) {
    var secret = element.getAttribute("data-pushgate-totp");
    var options = {
      digits: parseInt(element.getAttribute("data-digits") || "6", 10),
      period: parseInt(element.getAttribute("data-period") || "30", 10)
    };
    var left = element.id
      ? document.querySelector('[data-pushgate-totp-left="' + element.id + '"]')
      : null;
    var shownStep = null;
    function tick() {
      var now = Date.now();
      if (left) {
        left.textContent = String(secondsLeft(now, options.period));
      }
      var current = step(now, options.period);
      if (current === shownStep) {
        return;
      }
      shownStep = current;
      code(secret, now, options).then(function (value) {
        element.textContent = value;
        element.setAttribute("data-step", String(current));
      }, function (error) {
        element.textContent = error.message;
      });
    }
    tick();
    var timer = window.setInterval(tick, 1000);
    return function stop() { window.clearInterval(timer); };
  }

  window.pushgateTotp = {
    code: code,
    hotp: function (secretBase32, counter, digits) {
      return hotp(base32Decode(secretBase32), counter, digits || 6);
    },
    secondsLeft: secondsLeft,
    base32Decode: base32Decode,
    bind: bind
  };

  function bindAll() {
    var elements = document.querySelectorAll("[data-pushgate-totp]");
    for (var i = 0; i < elements.length; i++) {
      bind(elements[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", bindAll);
  } else {
    bindAll();
  }
})();
