// Progressive help for the forms; every page works without it. Served from
// /static/app.js because the Content-Security-Policy allows no inline script.
//
// - A submit button with data-busy shows that text and cannot be pressed again while
//   the lookup is under way (an issuer may take seconds to answer).
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  var buttons = form.querySelectorAll("button[data-busy]");
  for (var i = 0; i < buttons.length; i++) {
    var b = buttons[i];
    if (b.disabled) {
      event.preventDefault();
      continue;
    }
    b.setAttribute("aria-busy", "true");
    b.textContent = b.getAttribute("data-busy");
    // After the submission has been taken, so the button's own value is still sent.
    setTimeout(function (button) { button.disabled = true; }, 0, b);
  }
});

// - A button with data-print opens the browser's print dialog (the print view).
document.addEventListener("click", function (event) {
  var target = event.target;
  if (target instanceof Element && target.closest("[data-print]")) {
    window.print();
  }
});
