// The pages' script, served from /assets/account.js under `script-src 'self'`.
// Progressive enhancement only: every page works without it (passkeys need it).
"use strict";

// base64url (no padding) <-> ArrayBuffer.
function toBuffer(text) {
  var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  var raw = atob(b64 + "===".slice((b64.length + 3) % 4));
  var bytes = new Uint8Array(raw.length);
  for (var i = 0; i < raw.length; i++) {
    bytes[i] = raw.charCodeAt(i);
  }
  return bytes.buffer;
}

function toBase64url(buffer) {
  var bytes = new Uint8Array(buffer);
  var raw = "";
  for (var i = 0; i < bytes.length; i++) {
    raw += String.fromCharCode(bytes[i]);
  }
  return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// The server's creation options (binary values in base64url) as the browser takes them.
function creationOptions(options) {
  var pk = options.publicKey;
  pk.challenge = toBuffer(pk.challenge);
  pk.user.id = toBuffer(pk.user.id);
  (pk.excludeCredentials || []).forEach(function (c) {
    c.id = toBuffer(c.id);
  });
  return { publicKey: pk };
}

// The server's request options as the browser takes them.
function requestOptions(options) {
  var pk = options.publicKey;
  pk.challenge = toBuffer(pk.challenge);
  (pk.allowCredentials || []).forEach(function (c) {
    c.id = toBuffer(c.id);
  });
  return { publicKey: pk };
}

// A new credential as the JSON the server parses.
function registrationJson(cred) {
  return {
    id: cred.id,
    rawId: toBase64url(cred.rawId),
    type: cred.type,
    response: {
      attestationObject: toBase64url(cred.response.attestationObject),
      clientDataJSON: toBase64url(cred.response.clientDataJSON),
    },
    extensions: cred.getClientExtensionResults(),
  };
}

// An assertion as the JSON the server parses.
function assertionJson(cred) {
  var r = cred.response;
  return {
    id: cred.id,
    rawId: toBase64url(cred.rawId),
    type: cred.type,
    response: {
      authenticatorData: toBase64url(r.authenticatorData),
      clientDataJSON: toBase64url(r.clientDataJSON),
      signature: toBase64url(r.signature),
      userHandle: r.userHandle ? toBase64url(r.userHandle) : null,
    },
    extensions: {},
  };
}

// A same-origin JSON call carrying the page's CSRF token; resolves to the JSON answer, or
// rejects with {status, error, message}.
function call(path, csrf, body) {
  return fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body || {}),
  }).then(function (r) {
    return r.json().then(function (json) {
      if (!r.ok) {
        throw { status: r.status, error: json.error, message: json.message };
      }
      return json;
    });
  });
}

// What to say for a failed ceremony.
function failureText(e) {
  if (e && e.name === "NotAllowedError") {
    return "The passkey request was cancelled or timed out.";
  }
  if (e && e.message) {
    return e.message;
  }
  return "The passkey could not be used. Try again.";
}

function showError(box, e) {
  if (box) {
    box.textContent = failureText(e);
    box.hidden = false;
  }
}

// Posts `form` with the passkey's answer to `ceremony` in place of the password.
function submitAssertion(form, ceremony, cred) {
  [
    ["passkey_ceremony", ceremony],
    ["passkey_credential", JSON.stringify(assertionJson(cred))],
  ].forEach(function (pair) {
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = pair[0];
    input.value = pair[1];
    form.appendChild(input);
  });
  form.querySelectorAll("input[type=password]").forEach(function (p) {
    p.value = "";
  });
  form.submit();
}

// Asks the server at `start` for a challenge (with `body`), runs navigator.credentials.get()
// and posts `form` with the answer; `noPasskey` is what to say when the account has none.
function signWithPasskey(start, form, body, errorBox, noPasskey) {
  var csrf = form.querySelector("input[name=csrf]").value;
  call(start, csrf, body)
    .then(function (challenge) {
      return navigator.credentials
        .get(requestOptions(challenge.options))
        .then(function (cred) {
          submitAssertion(form, challenge.ceremony, cred);
        });
    })
    .catch(function (e) {
      showError(errorBox, e && e.status === 404 && noPasskey ? { message: noPasskey } : e);
    });
}

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

  var webauthn = !!(window.PublicKeyCredential && navigator.credentials);

  // Passkeys page: "Add a passkey" registers one, then reloads the page.
  var add = document.querySelector("[data-passkey-add]");
  if (add && !webauthn) {
    var unsupported = document.querySelector("[data-passkey-unsupported]");
    if (unsupported) {
      unsupported.hidden = false;
    }
  }
  if (add && webauthn) {
    add.hidden = false;
    var addForm = add.querySelector("form");
    var addError = add.querySelector("[data-passkey-error]");
    addForm.addEventListener("submit", function (event) {
      event.preventDefault();
      addError.hidden = true;
      var csrf = addForm.querySelector("input[name=csrf]").value;
      var start = add.getAttribute("data-start");
      var label = addForm.querySelector("input[name=label]").value;
      call(start, csrf, { label: label })
        .then(function (challenge) {
          return navigator.credentials
            .create(creationOptions(challenge.options))
            .then(function (cred) {
              return call(
                start + "/" + encodeURIComponent(challenge.ceremony),
                csrf,
                registrationJson(cred)
              );
            });
        })
        .then(function () {
          window.location.assign(add.getAttribute("data-done"));
        })
        .catch(function (e) {
          if (e && e.error === "insufficient_user_authentication") {
            window.location.assign(add.getAttribute("data-reauth"));
          } else {
            showError(addError, e);
          }
        });
    });
  }

  // Sign-in page: passwordless with a discoverable passkey, or a passkey as the second factor
  // after the username and password.
  var login = document.querySelector("[data-passkey-login]");
  var loginForm = document.querySelector("form[data-login]");
  if (login && loginForm && webauthn) {
    login.hidden = false;
    var loginError = login.querySelector("[data-passkey-error]");
    var start = login.getAttribute("data-start");
    login.querySelector("[data-passkey-button]").addEventListener("click", function () {
      loginError.hidden = true;
      signWithPasskey(start, loginForm, {}, loginError, null);
    });
    var second = loginForm.querySelector("[data-passkey-second]");
    if (second) {
      second.hidden = false;
      second.addEventListener("click", function () {
        loginError.hidden = true;
        var username = loginForm.querySelector("input[name=username]").value;
        var password = loginForm.querySelector("input[name=password]").value;
        if (!username || !password) {
          showError(loginError, { message: "Enter your username and password first." });
          return;
        }
        signWithPasskey(
          start,
          loginForm,
          { username: username, password: password },
          loginError,
          "This account has no passkey. Sign in with your password and code."
        );
      });
    }
  }

  // Confirmation page: confirm with a passkey instead of the password.
  var stepUp = document.querySelector("[data-passkey-step-up]");
  if (stepUp && webauthn) {
    var stepUpForm = stepUp.querySelector("form");
    var stepUpButton = stepUp.querySelector("[data-passkey-button]");
    var stepUpError = stepUp.querySelector("[data-passkey-error]");
    stepUpButton.hidden = false;
    stepUpButton.addEventListener("click", function () {
      stepUpError.hidden = true;
      signWithPasskey(stepUp.getAttribute("data-start"), stepUpForm, {}, stepUpError, null);
    });
  }
});
