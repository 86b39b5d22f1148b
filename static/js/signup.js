/* Sign-up pages: the address check as one types on the form, and the progress
   page following its institution until it opens. Plain JavaScript, no build;
   both pages work without it (the server checks again, the page reloads). */
(function () {
  "use strict";

  var CHECK_DELAY_MS = 300;
  var POLL_MS = 1000;
  var POLL_SLOW_MS = 5000; // after an error, or while a failed set-up waits for the operator
  var READY_PAUSE_MS = 1500; // long enough for the "ready" message to be announced

  function getJson(url, signal) {
    return fetch(url, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
      signal: signal,
    }).then(function (response) {
      return response.json().then(function (body) {
        return { status: response.status, body: body };
      });
    });
  }

  function slugCheck(container) {
    var input = container.querySelector("input");
    var output = container.querySelector(".slug-availability");
    var url = container.getAttribute("data-slug-check");
    var timer = null;
    var controller = null;
    var lastChecked = null;

    function show(text, state) {
      output.textContent = text;
      output.setAttribute("data-state", state);
    }

    function check() {
      var slug = input.value.trim().toLowerCase();
      if (slug === lastChecked) return;
      lastChecked = slug;
      if (controller) controller.abort(); // an older answer must not overwrite a newer one
      if (!slug) {
        show("", "");
        return;
      }
      controller = new AbortController();
      show("Checking " + slug + "…", "checking");
      getJson(url + "?slug=" + encodeURIComponent(slug), controller.signal)
        .then(function (result) {
          if (result.status === 200) {
            show(result.body.message, result.body.available ? "available" : "unavailable");
          } else {
            show(result.body.error ? result.body.error.message : "", "unknown");
            lastChecked = null;
          }
        })
        .catch(function (error) {
          if (error.name !== "AbortError") {
            show("", "");
            lastChecked = null;
          }
        });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(check, CHECK_DELAY_MS);
    });
    input.addEventListener("blur", check);
    if (input.value) check();
  }

  function followProgress(section) {
    var url = section.getAttribute("data-status-url");
    var message = document.getElementById("progress-message");
    var bar = document.getElementById("progress-bar");
    var next = document.getElementById("progress-next");
    var reload = document.getElementById("progress-reload");

    function goTo(nextUrl) {
      next.href = nextUrl;
      next.hidden = false;
      reload.hidden = true;
      setTimeout(function () {
        window.location.assign(nextUrl);
      }, READY_PAUSE_MS);
    }

    function render(state) {
      if (message.textContent !== state.message) message.textContent = state.message;
      bar.value = state.steps_done.length;
      bar.textContent = state.steps_done.length + " of " + state.steps_total;
      section.setAttribute("data-status", state.status);
      message.parentNode.className = "note progress-message progress-" + state.status;
      section.querySelectorAll("[data-step]").forEach(function (item) {
        var name = item.getAttribute("data-step");
        var done =
          name === "payment"
            ? state.status !== "awaiting_payment"
            : state.steps_done.indexOf(name) !== -1;
        item.classList.toggle("done", done);
        item.classList.toggle("current", name === "payment" && !done);
        item.querySelector(".visually-hidden").textContent = done ? "Done: " : "Waiting: ";
      });
    }

    function poll() {
      getJson(url)
        .then(function (result) {
          if (result.status !== 200) throw new Error("status " + result.status);
          render(result.body);
          if (result.body.next_url) {
            goTo(result.body.next_url);
          } else {
            setTimeout(poll, result.body.status === "failed" ? POLL_SLOW_MS : POLL_MS);
          }
        })
        .catch(function () {
          setTimeout(poll, POLL_SLOW_MS);
        });
    }

    var ready = section.getAttribute("data-next-url");
    if (ready) {
      goTo(ready);
    } else {
      setTimeout(poll, POLL_MS);
    }
  }

  document.querySelectorAll("[data-slug-check]").forEach(slugCheck);
  document.querySelectorAll("[data-status-url]").forEach(followProgress);
})();
