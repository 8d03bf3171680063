/* Keeps the card page and its scripts available offline: network first, the last good copy when offline. */
var CACHE = 'member-card';
var KEEP = ['/m/card', '/m/static/member.css', '/m/static/member-code.js', '/m/vendor/qrious.min.js'];

self.addEventListener('install', function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(KEEP); }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener('activate', function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener('fetch', function (event) {
  var url = new URL(event.request.url);
  if (event.request.method !== 'GET' || KEEP.indexOf(url.pathname) < 0) { return; }
  event.respondWith(
    fetch(event.request).then(function (response) {
      if (response.ok && !response.redirected) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(url.pathname, copy); });
      }
      return response;
    })['catch'](function () {
      return caches.match(url.pathname).then(function (hit) { return hit || Response.error(); });
    })
  );
});
