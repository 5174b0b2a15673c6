// The composer's takeaway fields are multi-line: Enter saves the takeaway (its own Save button
// submits the arrangement form), Shift+Enter starts a new line. Without JavaScript, Enter starts a
// new line and the Save button saves; nothing else of the form is triggered by a key.
(() => {
  for (const field of document.querySelectorAll('textarea.takeaway-field')) {
    field.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter' || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) return;
      if (event.isComposing) return; // an input method is choosing characters
      const save = [...field.form.querySelectorAll('button[name="op"]')].find((b) => b.value === field.dataset.save);
      if (!save) return;
      event.preventDefault();
      field.form.requestSubmit(save);
    });
  }
})();
