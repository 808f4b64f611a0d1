// The handoff page's few behaviours htmx does not cover. No inline script: the page's CSP allows only
// scripts served by Baton. The page token travels in a request header (no cookies inside Salesforce).
(function () {
  "use strict";
  var token = document.querySelector('meta[name="baton-page-token"]').content;

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-Baton-Page-Token"] = token;
  });

  // Enter in the invitee box adds the address (checked by Baton) instead of submitting anything.
  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (event.key === "Enter" && input.id === "invitee-input") {
      event.preventDefault();
      if (input.value.trim()) { htmx.trigger(input, "add-invitee"); }
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var input = event.detail.elt;
    if (input.id === "invitee-input" && event.detail.successful) {
      var added = event.detail.xhr.responseText.indexOf("data-invalid") === -1;
      if (added) { input.value = ""; }
      input.setAttribute("aria-invalid", added ? "false" : "true");
      input.focus();
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target.closest("button");
    if (!target) { return; }
    if (target.classList.contains("remove")) {
      var chip = target.closest("li");
      if (chip) { chip.remove(); }
      document.getElementById("invitee-input").focus();
    } else if (target.classList.contains("slot")) {
      document.querySelectorAll("button.slot[aria-pressed='true']").forEach(function (other) {
        other.setAttribute("aria-pressed", "false");
      });
      target.setAttribute("aria-pressed", "true");
    }
  });
})();

// An expired page token or a failing server must not look like a page doing nothing.
document.addEventListener("htmx:responseError", function (event) {
  var status = event.detail.xhr.status;
  var result = document.getElementById("result");
  result.innerHTML = "";
  var message = document.createElement("p");
  message.className = "problem";
  message.setAttribute("role", "alert");
  message.textContent = status === 401
    ? "This page has expired: reopen it from the record."
    : "Baton could not answer (" + status + "); try again.";
  result.appendChild(message);
});
