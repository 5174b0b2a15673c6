// Live Markdown preview for the article form. The server renders with the same sanitising
// renderer as the email and the web version, so what shows here is what readers get.
// Without JavaScript, the form's "Preview" button does the same with a full page load.
(() => {
  const form = document.getElementById('article-form');
  const body = document.getElementById('body');
  const takeaway = document.getElementById('takeaway');
  const bodyPreview = document.getElementById('body-preview');
  const takeawayPreview = document.getElementById('takeaway-preview');
  const tokenMeta = document.querySelector('meta[name="csrf-token"]');
  if (!form || !body || !bodyPreview || !tokenMeta) return;

  let timer = 0;
  let sequence = 0;

  async function refresh() {
    const mine = ++sequence;
    try {
      const response = await fetch('/admin/articles/preview', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', 'x-csrf-token': tokenMeta.getAttribute('content') || '' },
        body: JSON.stringify({ markdown: body.value, takeaway: takeaway ? takeaway.value : '' }),
      });
      if (!response.ok || mine !== sequence) return;
      const data = await response.json();
      // Safe: the server sanitised this HTML (no script, no event handler, no style).
      bodyPreview.innerHTML = data.html;
      if (takeawayPreview) {
        takeawayPreview.innerHTML = data.takeawayHtml
          ? '<p><strong>Takeaway:</strong> ' + data.takeawayHtml + '</p>'
          : '';
      }
      form.dataset.previewed = String(mine);
    } catch {
      // Offline or signed out: the Preview button still works.
    }
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 300);
  }
  body.addEventListener('input', schedule);
  if (takeaway) takeaway.addEventListener('input', schedule);
})();
