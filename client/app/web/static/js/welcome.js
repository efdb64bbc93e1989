// The first run of a new device: paste the invitation link an
// administrator sent (or, for a second device, the link from one's other
// device), give one's name and choose a passphrase, then compare codes with
// the person greeting on the other side. No terminal.
import { h, replace, add, field } from './dom.js';
import { codeExchange } from './enrol.js';

const urls = {
  claim: () => '/api/claim',
  claimCode: () => '/api/claim/code',
};

export function welcomeScreen(app) {
  const t = app.t;
  const link = h('input', { type: 'url', required: true, autocomplete: 'off', spellcheck: 'false' });
  const name = h('input', { type: 'text', autocomplete: 'name' });
  const label = h('input', { type: 'text', autocomplete: 'off' });
  const pass = h('input', { type: 'password', required: true, autocomplete: 'new-password', minlength: 8 });
  const again = h('input', { type: 'password', required: true, autocomplete: 'new-password' });
  const exchange = h('div', { id: 'claim-exchange' });
  const submit = h('button', { type: 'submit', class: 'primary' }, t('welcome.start'));
  const form = h('form', {
    onsubmit: async (e) => {
      e.preventDefault();
      if (pass.value !== again.value) {
        again.setCustomValidity(t('welcome.mismatch'));
        again.reportValidity();
        return;
      }
      submit.disabled = true;
      try {
        await app.api.post(urls.claim(), {
          link: link.value.trim(), name: name.value.trim(), device_label: label.value.trim(), passphrase: pass.value,
        });
        pass.value = '';
        again.value = '';
        form.hidden = true;
        await codeExchange(app, exchange, {
          peerLabel: t('welcome.greeter'),
          poll: () => app.api.get(urls.claim()),
          send: (code) => app.api.post(urls.claimCode(), { code }),
        });
        add(exchange, h('p', { class: 'notice', id: 'claimed' }, t('welcome.done')));
        app.showLastConnection = false;
        setTimeout(() => app.refreshState().catch(app.fail), 1500);
      } catch (err) {
        app.fail(err);
        form.hidden = false;
        submit.disabled = false;
      }
    },
  },
  field(t('welcome.link'), link, t('welcome.linkHint')),
  field(t('welcome.name'), name, t('welcome.nameHint')),
  field(t('welcome.deviceLabel'), label, t('welcome.deviceLabelHint')),
  field(t('welcome.passphrase'), pass, t('welcome.passphraseHint')),
  field(t('welcome.again'), again),
  h('div', { class: 'actions' }, submit));
  again.addEventListener('input', () => again.setCustomValidity(''));
  replace(app.main, h('section', { class: 'card narrow', 'aria-labelledby': 'welcome-title' },
    h('h1', { id: 'welcome-title' }, t('welcome.title')),
    h('p', null, t('welcome.intro')),
    form, exchange));
  link.focus();
}
