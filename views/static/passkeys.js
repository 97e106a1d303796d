// Passkey forms (views/_passkey_sign_in.njk, views/account_security.njk): asks the browser for a
// passkey with the options the server put on the form (WebAuthn's JSON form of them), puts the
// answer in the form and posts it. The page's CSP allows only scripts from this origin.
(() => {
  if (!window.PublicKeyCredential || !navigator.credentials) return;

  const toBytes = (b64url) => {
    const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/');
    const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0)).buffer;
  };
  const toText = (buffer) => {
    let raw = '';
    for (const byte of new Uint8Array(buffer)) raw += String.fromCharCode(byte);
    return btoa(raw).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };
  const descriptors = (list) => (list || []).map((d) => ({ ...d, id: toBytes(d.id) }));

  const creationOptions = (o) => ({
    ...o,
    challenge: toBytes(o.challenge),
    user: { ...o.user, id: toBytes(o.user.id) },
    excludeCredentials: descriptors(o.excludeCredentials),
  });
  const requestOptions = (o) => ({
    ...o,
    challenge: toBytes(o.challenge),
    allowCredentials: descriptors(o.allowCredentials),
  });

  const answerJSON = (credential) => {
    const r = credential.response;
    const response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      if (r.getTransports) response.transports = r.getTransports();
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      if (r.userHandle) response.userHandle = toText(r.userHandle);
    }
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
    };
  };

  for (const form of document.querySelectorAll('form[data-passkey]')) {
    let options;
    try {
      options = JSON.parse(form.dataset.options || '');
    } catch {
      continue;
    }
    const register = form.dataset.passkey === 'register';
    const button = form.querySelector('[data-passkey-button]');
    const field = form.querySelector('input[name="credential"]');
    const status = form.querySelector('[data-passkey-status]');
    if (!button || !field) continue;
    form.hidden = false;
    let pending;

    const run = async (conditional) => {
      pending?.abort();
      const controller = new AbortController();
      pending = controller;
      try {
        const credential = register
          ? await navigator.credentials.create({ publicKey: creationOptions(options), signal: controller.signal })
          : await navigator.credentials.get({
              publicKey: requestOptions(options),
              signal: controller.signal,
              ...(conditional ? { mediation: 'conditional' } : {}),
            });
        if (!credential) return;
        field.value = JSON.stringify(answerJSON(credential));
        form.submit();
      } catch {
        if (!conditional && status) status.textContent = status.dataset.failed || '';
      }
    };

    button.addEventListener('click', (event) => {
      event.preventDefault();
      if (status) status.textContent = '';
      // The form's own fields (a new passkey's name) first: no passkey is made for a form that
      // could not then be sent.
      if (!form.reportValidity()) return;
      run(false);
    });
    // Conditional UI: the browser offers passkeys among the username field's suggestions.
    if (!register && document.querySelector('input[autocomplete~="webauthn"]')) {
      const check = PublicKeyCredential.isConditionalMediationAvailable;
      if (check)
        check.call(PublicKeyCredential).then(
          (ok) => ok && run(true),
          () => {},
        );
    }
  }
})();
