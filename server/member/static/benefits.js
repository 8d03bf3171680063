/* The benefit wallet: open one code on tap (audited on the server), show it with its QR code, copy it (ES5). */
(function () {
  var wallet = document.getElementById('wallet');
  if (!wallet) { return; }
  function copy(text, button) {
    function done() { button.textContent = wallet.getAttribute('data-copied'); }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
    } else { fallback(text); done(); }
  }
  function fallback(text) {
    var area = document.createElement('textarea');
    area.value = text;
    document.body.appendChild(area);
    area.select();
    try { document.execCommand('copy'); } catch (e) { /* nothing more to try */ }
    document.body.removeChild(area);
  }
  var buttons = wallet.querySelectorAll('button.reveal');
  Array.prototype.forEach.call(buttons, function (button) {
    button.addEventListener('click', function () { show(button, button.getAttribute('data-url')); });
  });
  // a dynamic voucher: its one-time code is fetched again when it runs out (only while the page is shown)
  function refresh(button, seconds) {
    window.setTimeout(function () {
      if (document.hidden) { refresh(button, 1); return; }
      show(button, button.getAttribute('data-refresh-url'));
    }, Math.max(1, seconds) * 1000);
  }
  function show(button, url) {
    var item = button.parentNode;
    var box = item.querySelector('.revealed');
    var xhr = new XMLHttpRequest();
    button.disabled = true;
    xhr.open('POST', url);
    xhr.setRequestHeader('X-CSRFToken', wallet.getAttribute('data-csrf'));
    xhr.onload = function () {
      button.disabled = false;
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status !== 200) { alert(body.message || wallet.getAttribute('data-failed')); return; }
      item.querySelector('.qr').innerHTML = body.qr_svg || '';
      item.querySelector('.code-text').textContent = body.code;
      var secret = item.querySelector('.secret-text');
      secret.textContent = body.secret || '';
      secret.hidden = !body.secret;
      box.hidden = false;
      button.hidden = true;
      item.querySelector('button.copy').onclick = function () {
        copy(body.secret ? body.code + ' ' + body.secret : body.code, this);
      };
      item.querySelector('button.copy').hidden = !!body.dynamic;
      if (body.dynamic && button.getAttribute('data-refresh-url')) { refresh(button, body.refresh_seconds); }
    };
    xhr.onerror = function () { button.disabled = false; alert(wallet.getAttribute('data-failed')); };
    xhr.send();
  }
}());
