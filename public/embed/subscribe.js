// Optional: inline answers for the newsletter's embedded sign-up form. Without this script the
// form still works (the browser shows the newsletter's own "Check your inbox" page). With it, the
// form is sent in the background and the answer is shown in the form's [data-newsletter-status].
(function () {
  'use strict';
  function statusOf(form) {
    return form.querySelector('[data-newsletter-status]');
  }
  function onSubmit(event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute('data-newsletter-embed')) return;
    event.preventDefault();
    var status = statusOf(form);
    var button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    fetch(form.action, {
      method: 'POST',
      headers: { Accept: 'application/json' },
      body: new URLSearchParams(new FormData(form)),
      credentials: 'omit',
    })
      .then(function (res) {
        return res.json().catch(function () {
          return { ok: false, message: 'The sign-up could not be sent. Please try again later.' };
        });
      })
      .then(function (answer) {
        if (status) status.textContent = answer.message;
        if (answer.ok) form.setAttribute('data-newsletter-done', '');
      })
      .catch(function () {
        if (status) status.textContent = 'The sign-up could not be sent. Please try again later.';
      })
      .finally(function () {
        if (button) button.disabled = false;
      });
  }
  document.addEventListener('submit', onSubmit);
})();
