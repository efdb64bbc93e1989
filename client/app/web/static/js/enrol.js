// The code exchange of an enrolment (SPEC §5), as both sides see it on
// screen: each side shows its own code and types the code the other person
// reads out (on the phone, or standing side by side). The app runs the
// protocol; the page polls its state and sends the typed code.
import { h, replace, field } from './dom.js';
import { errorText } from './i18n.js';

// readEnrolment normalises an enrolment's state from the API.
export function readEnrolment(s) {
  s = s || {};
  return {
    id: s.id || s.greeting_id || s.claim_id || '',
    state: s.state || s.step || s.status || 'waiting',
    code: s.code || s.your_code || s.sas || '',
    peer: s.claimer || s.greeter || s.peer || null,
    error: s.error || null,
    result: s.result || s.user || s.enrolled || null,
  };
}

// codeExchange draws the exchange into box and drives it: poll() reads the
// state, send(code) sends the other side's code. It resolves with the last
// state once the enrolment is done, and rejects when it failed.
export function codeExchange(app, box, { poll, send, intro, peerLabel }) {
  const t = app.t;
  return new Promise((resolve, reject) => {
    let sent = false;
    let stopped = false;
    const status = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' }, t('enrol.waiting'));
    const mine = h('p', { class: 'code', id: 'my-code', 'aria-label': t('enrol.yourCode') });
    const theirs = h('input', { type: 'text', inputmode: 'text', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', required: true });
    const form = h('form', {
      hidden: true,
      onsubmit: async (e) => {
        e.preventDefault();
        sent = true;
        form.querySelector('button').disabled = true;
        status.textContent = t('enrol.checking');
        try { await send(theirs.value.trim()); } catch (err) { stopped = true; status.textContent = errorText(err); reject(err); }
      },
    }, field(t('enrol.theirCode', { peer: peerLabel }), theirs, t('enrol.theirCodeHint')),
    h('button', { type: 'submit', class: 'primary' }, t('enrol.confirm')));
    replace(box, intro || null, h('h3', null, t('enrol.yourCode')), mine, h('p', { class: 'hint' }, t('enrol.readOut')), form, status);
    const tick = async () => {
      if (stopped) return;
      let s;
      try { s = readEnrolment(await poll()); } catch (err) { stopped = true; status.textContent = errorText(err); reject(err); return; }
      if (s.error) { stopped = true; status.textContent = errorText(s.error.code ? s.error : { message: String(s.error) }); reject(s.error); return; }
      if (s.code && !mine.textContent) {
        mine.textContent = s.code;
        form.hidden = false;
        status.textContent = t('enrol.exchange');
        theirs.focus();
      }
      if (['done', 'enrolled', 'claimed', 'complete', 'completed'].includes(s.state)) {
        stopped = true;
        status.textContent = t('enrol.done');
        resolve(s);
        return;
      }
      if (['failed', 'aborted', 'cancelled', 'expired'].includes(s.state)) {
        stopped = true;
        status.textContent = t('enrol.failed');
        reject(new Error(s.state));
        return;
      }
      if (sent && s.state === 'code') status.textContent = t('enrol.checking');
      setTimeout(tick, 500);
    };
    tick();
  });
}
