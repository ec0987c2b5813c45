// Forms marked data-confirm ask before they post (the Content Security Policy forbids
// inline handlers, so this is the one place that asks).
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
})();
