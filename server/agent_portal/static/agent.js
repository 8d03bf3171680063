/* Sign-in page: ask for a one-time SMS code (ES5, for old WebViews). */
(function () {
  var button = document.getElementById('send-code');
  var status = document.getElementById('send-status');
  if (!button) { return; }
  function countdown(seconds) {
    button.disabled = true;
    var timer = setInterval(function () {
      seconds -= 1;
      button.textContent = button.getAttribute('data-wait').replace('{s}', seconds);
      if (seconds <= 0) {
        clearInterval(timer);
        button.disabled = false;
        button.textContent = button.getAttribute('data-label');
      }
    }, 1000);
  }
  button.addEventListener('click', function () {
    var xhr = new XMLHttpRequest();
    xhr.open('POST', button.getAttribute('data-url'));
    xhr.setRequestHeader('Content-Type', 'application/json');
    xhr.setRequestHeader('X-CSRFToken', button.getAttribute('data-csrf'));
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status === 200) {
        status.className = 'hint ok';
        status.textContent = button.getAttribute('data-sent').replace('{phone}', body.masked_phone);
        countdown(body.resend_after || 60);
        document.getElementById('code').focus();
      } else {
        status.className = 'hint error';
        status.textContent = body.message || ('HTTP ' + xhr.status);
        if (xhr.status === 429) { countdown(parseInt(xhr.getResponseHeader('Retry-After'), 10) || 60); }
      }
    };
    xhr.onerror = function () { status.className = 'hint error'; status.textContent = 'Network error'; };
    xhr.send(JSON.stringify({ phone: document.getElementById('phone').value }));
  });
}());
