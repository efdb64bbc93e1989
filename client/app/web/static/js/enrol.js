// The code exchange of an enrolment (SPEC §5) as both sides see it on
// screen (docs/API.md, "Code exchanges"): the app runs the protocol in the
// background; the page polls the exchange about twice a second, shows this
// side's code, asks for the code the other person reads out, and, on the
// greeter's side, who asks to join before confirming. On the claimer's
// side, the new passphrase is asked last, once the greeter confirmed.
import { h, replace, field, button } from './dom.js';
import { errorText } from './i18n.js';

// runExchange drives one exchange in box. poll() returns the exchange,
// answer(body) answers it, cancel() gives up; passphrase(body) gives the
// claimer's new passphrase at step passphrase. It resolves with the
// exchange at step done, and rejects with its error at step failed.
export function runExchange(app, box, { poll, answer, cancel, peerLabel, passphrase }) {
  const t = app.t;
  return new Promise((resolve, reject) => {
    let shown = '';
    let over = false;
    let step = '';
    const status = h('p', { class: 'muted', id: 'exchange-status', role: 'status', 'aria-live': 'polite' }, t('enrol.waiting'));
    const stage = h('div');
    const stop = button(t('enrol.cancel'), async () => {
      over = true;
      try { await cancel(); } catch { /* ended already */ }
      // past the greeter's confirmation, the server has enrolled already
      status.textContent = step === 'passphrase' ? errorText({ code: 'claimed_without_key' }) : t('enrol.cancelled');
      stop.disabled = true;
      reject(Object.assign(new Error('cancelled'), { name: 'AbortError' }));
    });
    replace(box, stage, status, h('div', { class: 'actions' }, stop));

    const send = async (body, form, call = answer) => {
      for (const b of form.querySelectorAll('button')) b.disabled = true;
      status.textContent = t('enrol.checking');
      try { show(await call(body)); } catch (err) { status.textContent = errorText(err); for (const b of form.querySelectorAll('button')) b.disabled = false; }
    };

    const codeStage = (ex) => {
      const theirs = h('input', { type: 'text', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', required: true });
      const form = h('form', { onsubmit: (e) => { e.preventDefault(); send({ code: theirs.value.trim() }, form); } },
        field(t('enrol.theirCode', { peer: peerLabel }), theirs, t('enrol.theirCodeHint')),
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('enrol.confirm'))));
      replace(stage,
        h('h3', null, t('enrol.yourCode')),
        h('p', { class: 'code', id: 'my-code' }, ex.code),
        h('p', { class: 'hint' }, t('enrol.readOut')),
        form);
      theirs.focus();
    };

    const confirmStage = (ex) => {
      const c = ex.claimer || {};
      const who = [c.name, c.email && `<${c.email}>`].filter(Boolean).join(' ');
      const form = h('form', { onsubmit: (e) => { e.preventDefault(); send({ confirm: true }, form); } },
        h('p', { id: 'claimer' }, c.deviceLabel
          ? t('enrol.asksWithDevice', { who, device: c.deviceLabel, profile: t(`profile.${c.profile || ''}`) })
          : t('enrol.asks', { who, profile: t(`profile.${c.profile || ''}`) })),
        h('div', { class: 'actions' },
          h('button', { type: 'submit', class: 'primary' }, t('enrol.accept')),
          button(t('enrol.refuse'), () => send({ confirm: false }, form), { class: 'danger' })));
      replace(stage, form);
    };

    // passphraseStage asks the new passphrase twice, with the rules and
    // messages of the command line (a refused one can be typed again).
    const passphraseStage = (ex) => {
      const pass = h('input', { type: 'password', required: true, autocomplete: 'new-password' });
      const again = h('input', { type: 'password', required: true, autocomplete: 'new-password' });
      const form = h('form', {
        onsubmit: (e) => {
          e.preventDefault();
          if (pass.value !== again.value) {
            again.setCustomValidity(t('welcome.mismatch'));
            again.reportValidity();
            return;
          }
          const body = { passphrase: pass.value, passphraseAgain: again.value };
          send(body, form, async (b) => {
            const next = await passphrase(b);
            pass.value = '';
            again.value = '';
            return next;
          });
        },
      },
      h('p', { id: 'passphrase-now' }, t('welcome.passphraseNow')),
      ex.progress ? h('p', { class: 'error', role: 'alert' }, ex.progress) : null,
      field(t('welcome.passphrase'), pass, t('welcome.passphraseHint')),
      field(t('welcome.again'), again),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('welcome.finish'))));
      again.addEventListener('input', () => again.setCustomValidity(''));
      replace(stage, form);
      pass.focus();
    };

    const show = (ex) => {
      if (over || !ex) return;
      step = ex.step;
      const key = `${ex.step}:${ex.code || ''}`;
      if (ex.step === 'done') {
        over = true;
        stop.hidden = true;
        replace(stage);
        status.textContent = t('enrol.done');
        resolve(ex);
        return;
      }
      if (ex.step === 'failed') {
        over = true;
        stop.hidden = true;
        replace(stage);
        const err = ex.error || { code: 'failed' };
        status.textContent = errorText(err);
        reject(Object.assign(new Error(err.message || err.code), err, { shown: true }));
        return;
      }
      if (key === shown) return;
      shown = key;
      if (ex.step === 'code' && ex.code) {
        codeStage(ex);
        status.textContent = t('enrol.exchange');
      } else if (ex.step === 'passphrase' && passphrase) {
        passphraseStage(ex);
        status.textContent = '';
      } else if (ex.step === 'confirm') {
        confirmStage(ex);
        status.textContent = '';
      } else {
        replace(stage);
        status.textContent = ex.progress || t('enrol.waiting');
      }
    };

    const tick = async () => {
      if (over) return;
      try { show(await poll()); } catch (err) {
        over = true;
        status.textContent = errorText(err);
        reject(err);
        return;
      }
      setTimeout(tick, 500);
    };
    tick();
  });
}
