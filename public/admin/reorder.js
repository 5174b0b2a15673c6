// Drag-and-drop reordering of an issue's articles within their section. The Up/Down buttons in the
// same form do the same without JavaScript and with the keyboard; this only adds the mouse path.
(() => {
  const form = document.getElementById('arrange-form');
  const status = document.getElementById('reorder-status');
  const tokenMeta = document.querySelector('meta[name="csrf-token"]');
  if (!form || !tokenMeta) return;
  const orderUrl = form.getAttribute('action').replace(/\/arrange$/, '/order');

  // Keyboard users pressing Up/Down get the page back with focus on the same button, so they
  // can press again without finding their place (the form itself works without this).
  const remembered = window.sessionStorage.getItem('admin-arrange-op');
  window.sessionStorage.removeItem('admin-arrange-op');
  if (remembered) {
    const again = [...form.querySelectorAll('button[name="op"]')].find((b) => b.value === remembered);
    const item = again && again.closest('li, section');
    const target = again && !again.disabled ? again : item && item.querySelector('button[name="op"]:not([disabled])');
    // After load: the browser's own scroll to the #fragment would otherwise take focus back.
    if (target) window.addEventListener('load', () => window.setTimeout(() => target.focus(), 0));
  }
  form.addEventListener('submit', (event) => {
    const button = event.submitter;
    if (button && button.name === 'op') window.sessionStorage.setItem('admin-arrange-op', button.value);
  });
  let dragged = null;

  function clearMarks() {
    for (const li of form.querySelectorAll('li.drop-before, li.drop-after'))
      li.classList.remove('drop-before', 'drop-after');
  }

  async function save() {
    const order = [...form.querySelectorAll('li[data-article-id]')].map((li) => Number(li.dataset.articleId));
    if (status) status.textContent = 'Saving the new order…';
    try {
      const response = await fetch(orderUrl, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', 'x-csrf-token': tokenMeta.getAttribute('content') || '' },
        body: JSON.stringify({ order }),
      });
      if (!response.ok) throw new Error(String(response.status));
      // Reload so numbers, buttons and the Index show the saved order.
      window.location.reload();
    } catch {
      if (status) status.textContent = 'The new order could not be saved; use the Up and Down buttons.';
    }
  }

  for (const li of form.querySelectorAll('li[draggable="true"]')) {
    li.addEventListener('dragstart', (event) => {
      dragged = li;
      li.classList.add('dragging');
      event.dataTransfer.effectAllowed = 'move';
      event.dataTransfer.setData('text/plain', li.dataset.articleId);
    });
    li.addEventListener('dragend', () => {
      li.classList.remove('dragging');
      clearMarks();
      dragged = null;
    });
    li.addEventListener('dragover', (event) => {
      // Articles stay in their section: only accept drops from the same list.
      if (!dragged || dragged === li || dragged.parentElement !== li.parentElement) return;
      event.preventDefault();
      const box = li.getBoundingClientRect();
      const after = event.clientY > box.top + box.height / 2;
      clearMarks();
      li.classList.add(after ? 'drop-after' : 'drop-before');
    });
    li.addEventListener('drop', (event) => {
      if (!dragged || dragged === li || dragged.parentElement !== li.parentElement) return;
      event.preventDefault();
      const after = li.classList.contains('drop-after');
      clearMarks();
      li.parentElement.insertBefore(dragged, after ? li.nextSibling : li);
      save();
    });
  }
})();
