// Live delivery dashboard: polls the status JSON while it is scheduled, sending or paused,
// and updates the figures in place. Without JavaScript the page's Refresh link does the same.
(() => {
  const panel = document.getElementById('dashboard');
  if (!panel || panel.dataset.live !== 'yes') return;
  const url = panel.dataset.statusUrl;
  const set = (name, text) => {
    const el = panel.querySelector('[data-field="' + name + '"]');
    if (el) el.textContent = text;
    return el;
  };
  const number = new Intl.NumberFormat('en-GB');
  let lastStatus = panel.querySelector('[data-field="status"]').textContent.trim();

  async function poll() {
    let data;
    try {
      const response = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(String(response.status));
      data = await response.json();
    } catch {
      window.setTimeout(poll, 5000);
      return;
    }
    const status = set('status', data.status);
    if (status) status.className = 'status status-' + data.status;
    for (const key of ['planned', 'sent', 'pending', 'sending', 'skipped', 'failed'])
      set(key, number.format(data.counts[key]));
    set('rateText', data.rateText);
    set('etaText', data.etaText);
    const progress = panel.querySelector('[data-field="percent"]');
    if (progress) {
      progress.value = data.percent;
      progress.textContent = data.percent + '%';
    }
    const pause = set('pauseReason', data.pauseReason || '');
    if (pause) pause.hidden = !data.pauseReason;
    set('sentAtLine', data.sentAt ? 'Finished ' + data.sentAt + '.' : '');
    const list = panel.querySelector('[data-field="failures"]');
    if (list) {
      list.replaceChildren(
        ...(data.failures.length
          ? data.failures.map((f) => {
              const li = document.createElement('li');
              const who = document.createElement('strong');
              who.textContent = f.email;
              li.append(who, ': ' + f.error);
              return li;
            })
          : [Object.assign(document.createElement('li'), { className: 'muted', textContent: 'None.' })]),
      );
    }
    const senders = panel.querySelector('[data-field="senders"]');
    if (senders) {
      const cell = (text) => Object.assign(document.createElement('td'), { textContent: String(text) });
      senders.replaceChildren(
        ...(data.senders.length
          ? data.senders.map((s) => {
              const tr = document.createElement('tr');
              tr.append(
                cell(s.host),
                cell(s.pid),
                cell(s.claims),
                cell(s.rateText),
                cell(s.lastSeenText + (s.alive ? '' : ' (gone)')),
              );
              return tr;
            })
          : [
              (() => {
                const tr = document.createElement('tr');
                tr.append(Object.assign(cell('None running.'), { colSpan: 5, className: 'muted' }));
                return tr;
              })(),
            ]),
      );
    }
    if (data.status !== lastStatus) {
      lastStatus = data.status;
      panel.dataset.changed = 'yes';
      set('statusHint', 'The status changed; refresh the page for the matching buttons.');
    }
    if (data.live) window.setTimeout(poll, 1500);
    else panel.dataset.live = 'done';
  }
  window.setTimeout(poll, 1000);
})();
