// Passkeys in the browser: the WebAuthn ceremonies of the sign-in and account pages. First-party
// and served from /assets (CSP script-src 'self'); no library. The server makes the options and
// checks the result; this script only carries them between it and navigator.credentials, then
// submits the page's ordinary form, so every outcome is an ordinary page.
//
// Markup: a <form data-passkey="get|create" data-options="URL"> with hidden `csrf` and
// `credential` fields, `hidden` until this script finds WebAuthn; a [data-passkey-start] button
// (a submit button for "create", whose form may have a `name` field); `data-status` names the
// element (a live region) for messages. `data-conditional` on a "get" form also offers passkeys in the email
// field's autofill where the browser can (conditional mediation).
(() => {
  'use strict';
  if (!window.PublicKeyCredential || !navigator.credentials) return;

  const b64 = {
    decode(text) {
      const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
      const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
      return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
    },
    encode(buffer) {
      let binary = '';
      for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
      return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    },
  };

  const descriptors = (list) => (list || []).map((d) => ({ ...d, id: b64.decode(d.id) }));

  function requestOptions(json) {
    return { ...json, challenge: b64.decode(json.challenge), allowCredentials: descriptors(json.allowCredentials) };
  }

  function creationOptions(json) {
    return {
      ...json,
      challenge: b64.decode(json.challenge),
      user: { ...json.user, id: b64.decode(json.user.id) },
      excludeCredentials: descriptors(json.excludeCredentials),
    };
  }

  /** The credential as the JSON of WebAuthn Level 3 (RegistrationResponseJSON / AuthenticationResponseJSON). */
  function credentialJSON(credential) {
    const r = credential.response;
    const response = { clientDataJSON: b64.encode(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = b64.encode(r.attestationObject);
      response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
    } else {
      response.authenticatorData = b64.encode(r.authenticatorData);
      response.signature = b64.encode(r.signature);
      if (r.userHandle) response.userHandle = b64.encode(r.userHandle);
    }
    return {
      id: credential.id,
      rawId: b64.encode(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response,
    };
  }

  function say(form, message) {
    const status = document.getElementById(form.dataset.status);
    if (status) status.textContent = message;
  }

  async function fetchOptions(form) {
    const body = new URLSearchParams({ csrf: form.elements.csrf.value });
    const response = await fetch(form.dataset.options, { method: 'POST', body, credentials: 'same-origin', headers: { accept: 'application/json' } });
    if (!response.ok) throw Object.assign(new Error('options'), { name: 'OptionsError' });
    return response.json();
  }

  function explain(error, mode) {
    if (error && error.name === 'AbortError') return '';
    if (error && error.name === 'OptionsError') return 'This page has expired. Reload it and try again.';
    if (error && error.name === 'InvalidStateError' && mode === 'create') return 'This device already holds a passkey for your account.';
    if (error && error.name === 'NotAllowedError') return mode === 'create' ? 'No passkey was added: the request was cancelled or timed out.' : 'The passkey sign-in was cancelled or timed out. Try again, or use your password.';
    return 'Your browser could not use a passkey here. Try again, or use your password.';
  }

  function finish(form, credential) {
    form.elements.credential.value = JSON.stringify(credentialJSON(credential));
    HTMLFormElement.prototype.submit.call(form);
  }

  for (const form of document.querySelectorAll('form[data-passkey]')) {
    const mode = form.dataset.passkey;
    const start = form.querySelector('[data-passkey-start]');
    form.hidden = false;
    let pending;

    async function get(conditional) {
      pending?.abort();
      const controller = new AbortController();
      pending = controller;
      const options = requestOptions(await fetchOptions(form));
      const credential = await navigator.credentials.get({ publicKey: options, signal: controller.signal, ...(conditional ? { mediation: 'conditional' } : {}) });
      if (credential) finish(form, credential);
    }

    if (mode === 'get') {
      start.addEventListener('click', () => {
        say(form, '');
        get(false).catch((error) => say(form, explain(error, mode)));
      });
      if (form.dataset.conditional !== undefined && PublicKeyCredential.isConditionalMediationAvailable) {
        PublicKeyCredential.isConditionalMediationAvailable()
          .then((available) => (available ? get(true) : undefined))
          // A conditional request ends quietly: aborted by the button, or nothing chosen.
          .catch(() => undefined);
      }
    } else if (mode === 'create') {
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        say(form, '');
        fetchOptions(form)
          .then((json) => navigator.credentials.create({ publicKey: creationOptions(json) }))
          .then((credential) => credential && finish(form, credential))
          .catch((error) => say(form, explain(error, mode)));
      });
    }
  }
})();
