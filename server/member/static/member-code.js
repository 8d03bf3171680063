/* The dynamic member code, computed on the phone so it keeps working offline.
 * Same function as server/domain/member_codes.py: prefix + 7-digit device index + 9 digits of
 * HOTP(HMAC-SHA256(device secret, 30-second time step)). QR drawn by QRious (served from the
 * js.qrious PyPI package), Code 128 (code set C) drawn here. ES5 for old WebViews. */
(function () {
  var STEP_MS = 30000;
  var box = document.getElementById('code-box');
  if (!box) { return; }
  var config = JSON.parse(box.getAttribute('data-config'));
  var stored = null;
  try { stored = JSON.parse(localStorage.getItem('memberCode') || 'null'); } catch (e) { stored = null; }
  if (config && config.secret) {
    if (navigator.onLine === false && stored && stored.device === config.device) {
      config.offset = stored.offset; // a copy of the page from the offline cache: its server time is old
    } else {
      config.offset = config.serverTime - Date.now(); // phone clock vs server clock, kept for offline use
    }
    try { localStorage.setItem('memberCode', JSON.stringify(config)); } catch (e) { /* private mode */ }
  } else {
    config = stored;
  }
  var subtle = window.crypto && window.crypto.subtle;
  if (!config || !subtle) { document.getElementById('code-error').hidden = false; return; }

  // Code 128 bar/space widths of symbols 0-106 (the standard table).
  var C128 = '212222,222122,222221,121223,121322,131222,122213,122312,132212,221213,221312,231212,112232,122132,122231,113222,123122,123221,223211,221132,221231,213212,223112,312131,311222,321122,321221,312212,322112,322211,212123,212321,232121,111323,131123,131321,112313,132113,132311,211313,231113,231311,112133,112331,132131,113123,113321,133121,313121,211331,231131,213113,213311,213131,311123,311321,331121,312113,312311,332111,314111,221411,431111,111224,111422,121124,121421,141122,141221,112214,112412,122114,122411,142112,142211,241211,221114,413111,241112,134111,111242,121142,121241,114212,124112,124211,411212,421112,421211,212141,214121,412121,111143,111341,131141,114113,114311,411113,411311,113141,114131,311141,411131,211412,211214,211232,2331112'.split(',');

  function code128c(digits) {
    var symbols = [105], check = 105, i, value;
    for (i = 0; i < digits.length; i += 2) {
      value = parseInt(digits.substr(i, 2), 10);
      symbols.push(value);
      check += value * (i / 2 + 1);
    }
    symbols.push(check % 103, 106);
    return symbols.map(function (s) { return C128[s]; }).join('');
  }

  function drawBarcode(canvas, digits) {
    var widths = code128c(digits), modules = 0, i, x, unit, ctx = canvas.getContext('2d');
    for (i = 0; i < widths.length; i++) { modules += +widths[i]; }
    unit = Math.floor(canvas.width / (modules + 20));
    x = Math.floor((canvas.width - unit * modules) / 2);
    ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = '#000';
    for (i = 0; i < widths.length; i++) {
      if (i % 2 === 0) { ctx.fillRect(x, 0, unit * widths[i], canvas.height); }
      x += unit * widths[i];
    }
  }

  function base64Bytes(text) {
    var raw = atob(text), bytes = new Uint8Array(raw.length), i;
    for (i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  function stepBytes(step) {
    var bytes = new Uint8Array(8), i;
    for (i = 7; i >= 0; i--) { bytes[i] = step % 256; step = Math.floor(step / 256); }
    return bytes;
  }

  function pad(text, width) { while (text.length < width) { text = '0' + text; } return text; }

  var keyPromise = subtle.importKey('raw', base64Bytes(config.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);

  function codeFor(step) {
    return keyPromise.then(function (key) { return subtle.sign('HMAC', key, stepBytes(step)); }).then(function (mac) {
      var d = new Uint8Array(mac), o = d[d.length - 1] & 15;
      var value = ((d[o] & 127) * 16777216) + (d[o + 1] << 16) + (d[o + 2] << 8) + d[o + 3];
      return config.prefix + pad(String(config.index), 7) + pad(String(value % 1000000000), 9);
    });
  }

  var qr = new QRious({ element: document.getElementById('qrcode'), size: 480, level: 'M', padding: 32 });
  var shownStep = null;
  var countdown = document.getElementById('countdown');

  function now() { return Date.now() + (config.offset || 0); }

  function tick() {
    var t = now(), step = Math.floor(t / STEP_MS);
    countdown.textContent = countdown.getAttribute('data-template').replace('{s}', Math.ceil(((step + 1) * STEP_MS - t) / 1000));
    document.getElementById('offline-note').hidden = navigator.onLine !== false;
    if (step === shownStep) { return; }
    shownStep = step;
    codeFor(step).then(function (code) {
      qr.value = code;
      drawBarcode(document.getElementById('barcode'), code);
      var digits = document.getElementById('code-digits');
      digits.textContent = code.replace(/(\d{4})(?=\d)/g, '$1 ');
      digits.setAttribute('data-code', code);
      box.setAttribute('data-step', String(step));
    });
  }
  tick();
  setInterval(tick, 1000);

  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/m/sw.js', { scope: '/m/' })['catch'](function () { /* optional */ });
  }
}());
