// The first run of a new device (docs/API.md, "Code exchanges"): paste
// the invitation link an administrator sent (or, for a second device, the
// link from one's other device); see what it is for; give one's name and
// the computer's name; compare codes with the person greeting on the other
// side; once they confirmed, choose a passphrase. No terminal.
import { h, replace, add, field } from './dom.js';
import { enc } from './api.js';
import { runExchange } from './enrol.js';

const urls = {
  enrol: () => '/api/enrol',
  exchange: (id) => `/api/enrol/${enc(id)}`,
  start: (id) => `/api/enrol/${enc(id)}/start`,
  answer: (id) => `/api/enrol/${enc(id)}/answer`,
  passphrase: (id) => `/api/enrol/${enc(id)}/passphrase`,
};

export function welcomeScreen(app) {
  const t = app.t;
  const box = h('div', { id: 'welcome-step' });
  replace(app.main, h('section', { class: 'card narrow', 'aria-labelledby': 'welcome-title' },
    h('h1', { id: 'welcome-title' }, t('welcome.title')),
    h('p', null, t('welcome.intro')),
    box));
  linkStep(app, box);
}

function linkStep(app, box) {
  const t = app.t;
  const link = h('input', { type: 'text', required: true, autocomplete: 'off', spellcheck: 'false' });
  const submit = h('button', { type: 'submit', class: 'primary' }, t('welcome.next'));
  const form = h('form', {
    onsubmit: async (e) => {
      e.preventDefault();
      submit.disabled = true;
      try {
        const ex = await app.api.post(urls.enrol(), { link: link.value.trim() });
        detailsStep(app, box, ex);
      } catch (err) {
        app.fail(err);
        submit.disabled = false;
      }
    },
  }, field(t('welcome.link'), link, t('welcome.linkHint')), h('div', { class: 'actions' }, submit));
  replace(box, form);
  link.focus();
}

function detailsStep(app, box, ex) {
  const t = app.t;
  const inv = ex.invitation || {};
  const forUser = inv.kind !== 'device';
  const name = h('input', { type: 'text', autocomplete: 'name', required: forUser });
  const label = h('input', { type: 'text', autocomplete: 'off' });
  const exchange = h('div', { id: 'claim-exchange' });
  const submit = h('button', { type: 'submit', class: 'primary' }, t('welcome.start'));
  const form = h('form', {
    onsubmit: async (e) => {
      e.preventDefault();
      submit.disabled = true;
      try {
        await app.api.post(urls.start(ex.id), {
          name: forUser ? name.value.trim() : '', deviceLabel: label.value.trim(),
        });
        form.hidden = true;
        await runExchange(app, exchange, {
          peerLabel: t('welcome.greeter'),
          poll: () => app.api.poll(urls.exchange(ex.id)),
          answer: (body) => app.api.post(urls.answer(ex.id), body),
          cancel: () => app.api.del(urls.exchange(ex.id)),
          passphrase: (body) => app.api.post(urls.passphrase(ex.id), body),
        });
        add(exchange, h('p', { class: 'notice', id: 'claimed' }, t('welcome.done')));
        setTimeout(() => app.refreshState().catch(app.fail), 1500);
      } catch (err) {
        if (!err.shown && err.name !== 'AbortError') app.fail(err);
        form.hidden = false;
        submit.disabled = false;
      }
    },
  },
  h('p', { class: 'notice', id: 'invitation-for' }, forUser
    ? t('welcome.forUser', { organisation: inv.organisation || '', email: inv.email || '', profile: t(`profile.${inv.profile || ''}`) })
    : t('welcome.forDevice', { organisation: inv.organisation || '' })),
  forUser ? field(t('welcome.name'), name, t('welcome.nameHint')) : null,
  field(t('welcome.deviceLabel'), label, t('welcome.deviceLabelHint')),
  h('div', { class: 'actions' }, submit));
  replace(box, form, exchange);
  (forUser ? name : label).focus();
}
