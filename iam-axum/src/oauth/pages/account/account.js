// The account pages' script, served from /assets/account.js under `script-src 'self'`.
// Progressive enhancement only: every page works without it.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // Copy buttons: <button data-copy="ID" hidden> copies the text of element ID.
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target || !navigator.clipboard) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.textContent.trim()).then(function () {
        button.textContent = "Copied";
      });
    });
  });

  // Passkeys page hook. NOT YET WIRED: the WebAuthn calls (navigator.credentials.create and
  // .get) come with the server's passkey operations. For now it only says whether this
  // browser could use passkeys.
  var passkeys = document.querySelector("[data-passkeys] [data-webauthn-support]");
  if (passkeys) {
    passkeys.textContent = window.PublicKeyCredential
      ? "This browser supports passkeys."
      : "This browser does not support passkeys.";
    passkeys.hidden = false;
  }
});
