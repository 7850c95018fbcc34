/*!
 * flashgate-client.js: a small, dependency-free client for the flashgate API.
 *
 * Load it as a plain script (it defines window.Flashgate and window.FlashgateClient)
 * or require() it from CommonJS. Every call answers { status, body, retryAfter }:
 * status is the HTTP status (0 if the server could not be reached), body the parsed
 * JSON (an error is { error, message }), retryAfter the Retry-After header in seconds.
 *
 *   <script src="/flashgate-client.js"></script>
 *   <script>
 *     const fg = new Flashgate.FlashgateClient({ baseUrl: '' });   // '' = this origin
 *     const sale = await fg.getSale('spring-drop');
 *     // sale.body: { sale_id, item, stock, remaining, state, starts_at, ends_at }
 *     const res = await fg.buy('spring-drop', 'alice');
 *     if (res.status === 202 || res.status === 200) {           // 200: alice's existing order
 *       const follower = fg.follow(res.body, {
 *         onStatus: (s) => console.log(s.status, s.position),   // QUEUED(37) … CONFIRMED … PAID
 *         onError: (e) => console.warn(e.error, e.message),     // e.fatal: following stopped
 *         onMode: (m) => console.log('updates via', m),         // 'stream' or 'polling'
 *       });
 *       // follower.close() stops following early.
 *     } else {
 *       console.warn(res.status, res.body.error);   // sold_out, sale_not_open, too_many_requests …
 *     }
 *   </script>
 *
 * follow() opens the server-sent events stream at events_url (events "status" and
 * "position" carry the status object) and falls back to polling status_url, waiting
 * poll_after_ms between polls, when EventSource is missing or the stream keeps
 * failing. It stops by itself at a final status: PAID, FAILED, CANCELLED or NOT_DRAWN.
 */
(function (root, factory) {
  'use strict';
  var api = factory(root);
  if (typeof module === 'object' && module && module.exports) module.exports = api;
  if (root) {
    root.Flashgate = api;
    root.FlashgateClient = api.FlashgateClient;
  }
})(typeof window !== 'undefined' ? window : typeof globalThis !== 'undefined' ? globalThis : this, function (root) {
  'use strict';

  // ENTERED and NOT_DRAWN: an entrant of a draw sale before and after a draw that left it out.
  var FINAL_STATUSES = ['PAID', 'FAILED', 'CANCELLED', 'NOT_DRAWN'];
  var STATUSES = ['QUEUED', 'PROCESSING', 'CONFIRMED', 'PAID', 'FAILED', 'CANCELLED', 'ENTERED', 'NOT_DRAWN'];
  var MIN_POLL_MS = 250;
  var MAX_POLL_MS = 10000;

  function isFinal(status) {
    return FINAL_STATUSES.indexOf(status) !== -1;
  }

  function clamp(value, low, high) {
    var n = Number(value);
    if (!isFinite(n)) n = 1000;
    return Math.min(high, Math.max(low, n));
  }

  // Retry-After is either delta-seconds or an HTTP date.
  function parseRetryAfter(header) {
    if (!header) return null;
    if (/^\s*\d+\s*$/.test(header)) return parseInt(header, 10);
    var at = Date.parse(header);
    if (isNaN(at)) return null;
    return Math.max(0, Math.ceil((at - Date.now()) / 1000));
  }

  function FlashgateClient(options) {
    if (!(this instanceof FlashgateClient)) return new FlashgateClient(options);
    options = options || {};
    this.baseUrl = String(options.baseUrl || '').replace(/\/+$/, '');
    var f = options.fetch || (root && root.fetch);
    this.fetch = f ? f.bind(root) : null;
    this.EventSource = 'EventSource' in options ? options.EventSource : root && root.EventSource;
    this.maxStreamErrors = options.maxStreamErrors || 3;
    this.token = options.token || null;
  }

  /** The buyer's bearer token of the shop's login (`--buyer-auth jwt`); null to send none. */
  FlashgateClient.prototype.setToken = function (token) {
    this.token = token || null;
  };

  FlashgateClient.prototype.url = function (path) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(path)) return path;
    return this.baseUrl + path;
  };

  FlashgateClient.prototype.request = function (method, path, body, headers) {
    var init = { method: method, headers: { Accept: 'application/json' }, cache: 'no-store' };
    for (var name in headers || {}) init.headers[name] = headers[name];
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    var networkError = {
      status: 0,
      body: { error: 'network_error', message: 'The server could not be reached.' },
      retryAfter: null,
    };
    if (!this.fetch) return Promise.resolve(networkError);
    return this.fetch(this.url(path), init).then(
      function (res) {
        return res.text().then(
          function (text) {
            var data = null;
            if (text) {
              try {
                data = JSON.parse(text);
              } catch (e) {
                data = { error: 'bad_response', message: text.slice(0, 200) };
              }
            }
            if (data === null && !res.ok) data = { error: 'http_' + res.status, message: res.statusText || '' };
            return { status: res.status, body: data, retryAfter: parseRetryAfter(res.headers.get('Retry-After')) };
          },
          function () {
            return networkError;
          }
        );
      },
      function () {
        return networkError;
      }
    );
  };

  /** GET /api/sales/{id} */
  FlashgateClient.prototype.getSale = function (saleId) {
    return this.request('GET', '/api/sales/' + encodeURIComponent(saleId));
  };

  /**
   * POST /api/sales/{id}/orders: 202 (queued) or 200 (the user's existing order).
   * With a token (setToken) it is sent as `Authorization: Bearer`, and `userId` may be left out:
   * the server takes the buyer from the token.
   */
  /** `itemId`: which item of a sale of several items (its object lists `items`); leave it out otherwise. */
  FlashgateClient.prototype.buy = function (saleId, userId, itemId) {
    var body = userId ? { user_id: userId } : {};
    if (itemId) body.item_id = itemId;
    var headers = this.token ? { Authorization: 'Bearer ' + this.token } : undefined;
    return this.request('POST', '/api/sales/' + encodeURIComponent(saleId) + '/orders', body, headers);
  };

  /** The claim `sub` of a JWT, unverified (for showing who the page buys as); null if unreadable. */
  FlashgateClient.tokenSubject = function (token) {
    try {
      var part = String(token).split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      while (part.length % 4) part += '=';
      var claims = JSON.parse(decodeURIComponent(escape(atob(part))));
      return typeof claims.sub === 'string' ? claims.sub : null;
    } catch (e) {
      return null;
    }
  };

  /** GET the status object once; `order` is a ticket string or anything with status_url / ticket. */
  FlashgateClient.prototype.getStatus = function (order) {
    return this.request('GET', statusUrlOf(order));
  };

  function statusUrlOf(order) {
    if (typeof order === 'string') return '/api/orders/status?ticket=' + encodeURIComponent(order);
    return order.status_url || '/api/orders/status?ticket=' + encodeURIComponent(order.ticket);
  }

  function eventsUrlOf(order) {
    if (typeof order === 'string') return '/api/orders/events?ticket=' + encodeURIComponent(order);
    return order.events_url || '/api/orders/events?ticket=' + encodeURIComponent(order.ticket);
  }

  /**
   * Follows an order until a final status. `order` is the answer of buy() (its status is
   * reported at once) or anything with a ticket / status_url / events_url.
   * Handlers: onStatus(statusObject), onError({status, error, message, fatal, retryAfter}),
   * onMode('stream' | 'polling'). Returns { close(), mode }.
   */
  FlashgateClient.prototype.follow = function (order, handlers) {
    var client = this;
    handlers = handlers || {};
    var closed = false;
    var source = null;
    var timer = null;
    var streamErrors = 0;
    var pollFailures = 0;
    var lastVersion = -1;
    var lastPosition;
    var statusUrl = statusUrlOf(order);
    var eventsUrl = eventsUrlOf(order);
    var follower = { mode: null, close: stop };

    function call(fn, arg) {
      if (typeof fn !== 'function') return;
      try {
        fn(arg);
      } catch (e) {
        setTimeout(function () {
          throw e;
        }, 0);
      }
    }

    function setMode(mode) {
      if (follower.mode === mode) return;
      follower.mode = mode;
      call(handlers.onMode, mode);
    }

    function stop() {
      closed = true;
      if (source) source.close();
      source = null;
      if (timer) clearTimeout(timer);
      timer = null;
    }

    function deliver(s) {
      if (closed || !s || STATUSES.indexOf(s.status) === -1) return;
      var version = typeof s.version === 'number' ? s.version : lastVersion;
      if (version < lastVersion) return; // an older answer overtaken by a newer one
      if (version === lastVersion && s.position === lastPosition) return;
      lastVersion = version;
      lastPosition = s.position;
      call(handlers.onStatus, s);
      if (isFinal(s.status)) stop();
    }

    function fail(result, fatal) {
      var body = result.body || {};
      call(handlers.onError, {
        status: result.status,
        error: body.error || 'error',
        message: body.message || '',
        retryAfter: result.retryAfter,
        fatal: fatal,
      });
      if (fatal) stop();
    }

    function schedule(ms) {
      if (closed) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(poll, ms);
    }

    function poll() {
      timer = null;
      if (closed) return;
      client.request('GET', statusUrl).then(function (r) {
        if (closed) return;
        if (r.status === 200 && r.body) {
          pollFailures = 0;
          deliver(r.body);
          schedule(clamp(r.body.poll_after_ms, MIN_POLL_MS, MAX_POLL_MS));
        } else if (r.status === 429 || r.status === 503) {
          fail(r, false);
          schedule(clamp((r.retryAfter || 1) * 1000, MIN_POLL_MS, 60000));
        } else if (r.status === 0 || r.status >= 500) {
          pollFailures += 1;
          fail(r, false);
          schedule(Math.min(MAX_POLL_MS, 500 * Math.pow(2, Math.min(pollFailures, 5))));
        } else {
          fail(r, true); // 400, 401 invalid_ticket, 404, 410 ticket_expired: retrying cannot help
        }
      });
    }

    function startPolling(delay) {
      if (closed) return;
      setMode('polling');
      schedule(delay || 0);
    }

    function startStream() {
      var ES = client.EventSource;
      if (!ES) return startPolling(0);
      try {
        source = new ES(client.url(eventsUrl));
      } catch (e) {
        source = null;
        return startPolling(0);
      }
      setMode('stream');
      var onEvent = function (event) {
        streamErrors = 0;
        var s;
        try {
          s = JSON.parse(event.data);
        } catch (e) {
          return;
        }
        deliver(s);
      };
      source.addEventListener('status', onEvent);
      source.addEventListener('position', onEvent);
      source.onerror = function () {
        if (closed || !source) return;
        streamErrors += 1;
        // CLOSED: the server refused the stream (e.g. a JSON error); otherwise the browser
        // reconnects by itself with Last-Event-ID, but not forever.
        if (source.readyState === 2 || streamErrors >= client.maxStreamErrors) {
          source.close();
          source = null;
          startPolling(0);
        }
      };
    }

    if (typeof order === 'object' && order && order.status) deliver(order);
    if (!closed) startStream();
    return follower;
  };

  return {
    FlashgateClient: FlashgateClient,
    FINAL_STATUSES: FINAL_STATUSES.slice(),
    STATUSES: STATUSES.slice(),
    isFinal: isFinal,
    parseRetryAfter: parseRetryAfter,
  };
});
