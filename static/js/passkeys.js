// Passkeys: register one (passkeys page), give one as the second factor of signing in (verify
// page) and sign an exception with one (portal sign-off page).
// The browser's navigator.credentials does the cryptography; this file only moves bytes
// between it and the portal as base64url.
(function () {
  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var text = "";
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function fromBase64url(value) {
    var text = atob(value.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((value.length + 3) % 4));
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return bytes.buffer;
  }

  function csrf(form) {
    var field = form.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function showError(form, message) {
    var box = form.querySelector("[data-passkey-error]");
    if (!box) { window.alert(message); return; }
    box.textContent = message;
    box.hidden = !message;
  }

  function postJson(form, url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf(form) },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.detail || "The portal refused the request.");
        return data;
      });
    });
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      return { type: c.type, id: fromBase64url(c.id), transports: c.transports };
    });
  }

  function creationOptions(o) {
    return {
      rp: o.rp,
      user: { id: fromBase64url(o.user.id), name: o.user.name, displayName: o.user.displayName },
      challenge: fromBase64url(o.challenge),
      pubKeyCredParams: o.pubKeyCredParams,
      timeout: o.timeout,
      excludeCredentials: descriptors(o.excludeCredentials),
      authenticatorSelection: o.authenticatorSelection,
      attestation: o.attestation
    };
  }

  function requestOptions(o) {
    return {
      challenge: fromBase64url(o.challenge),
      timeout: o.timeout,
      rpId: o.rpId,
      allowCredentials: descriptors(o.allowCredentials),
      userVerification: o.userVerification
    };
  }

  function registrationJson(credential) {
    var r = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toBase64url(r.clientDataJSON),
        attestationObject: toBase64url(r.attestationObject),
        transports: r.getTransports ? r.getTransports() : []
      },
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {}
    };
  }

  function assertionJson(credential) {
    var r = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toBase64url(r.clientDataJSON),
        authenticatorData: toBase64url(r.authenticatorData),
        signature: toBase64url(r.signature),
        userHandle: r.userHandle ? toBase64url(r.userHandle) : null
      },
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {}
    };
  }

  function supported() {
    return !!(window.PublicKeyCredential && navigator.credentials);
  }

  // Passkeys page: register a new one.
  var register = document.getElementById("passkey-register");
  if (register) {
    register.addEventListener("submit", function (event) {
      event.preventDefault();
      showError(register, "");
      if (!supported()) { showError(register, "This browser cannot use passkeys."); return; }
      var name = register.querySelector("[name=name]").value;
      postJson(register, register.dataset.optionsUrl)
        .then(function (options) { return navigator.credentials.create({ publicKey: creationOptions(options) }); })
        .then(function (credential) {
          return postJson(register, register.dataset.registerUrl, { name: name, credential: registrationJson(credential) });
        })
        .then(function (result) { window.location.assign(result.redirect); })
        .catch(function (error) { showError(register, error.message || String(error)); });
    });
  }

  // Verify page (the second step of signing in): a passkey instead of a code.
  var verify = document.getElementById("passkey-verify");
  if (verify) {
    verify.addEventListener("submit", function (event) {
      event.preventDefault();
      showError(verify, "");
      if (!supported()) { showError(verify, "This browser cannot use passkeys."); return; }
      postJson(verify, verify.dataset.optionsUrl)
        .then(function (options) { return navigator.credentials.get({ publicKey: requestOptions(options) }); })
        .then(function (credential) {
          return postJson(verify, verify.dataset.verifyUrl, { credential: assertionJson(credential) });
        })
        .then(function () { window.location.assign(verify.dataset.next || "/"); })
        .catch(function (error) { showError(verify, error.message || String(error)); });
    });
  }

  // Sign-off page: the challenge is the SHA-256 of the text shown, given by the page.
  var signButton = document.querySelector("[data-sign-with-passkey]");
  var optionsNode = document.getElementById("passkey-options");
  if (signButton && optionsNode) {
    var form = signButton.form;
    signButton.addEventListener("click", function (event) {
      event.preventDefault();
      showError(form, "");
      if (!supported()) { showError(form, "This browser cannot use passkeys; sign with a code from your authenticator app."); return; }
      var password = form.querySelector("[name=password]");
      if (password && !password.value) { showError(form, "Re-enter your password first."); password.focus(); return; }
      var options = JSON.parse(optionsNode.textContent);
      navigator.credentials.get({ publicKey: requestOptions(options) })
        .then(function (credential) {
          form.querySelector("[name=passkey_assertion]").value = JSON.stringify(assertionJson(credential));
          var decision = document.createElement("input");
          decision.type = "hidden"; decision.name = "decision"; decision.value = "sign";
          form.appendChild(decision);
          form.submit();
        })
        .catch(function (error) { showError(form, error.message || String(error)); });
    });
  }
})();
