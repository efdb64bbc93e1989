import { h, replace } from './dom.js';

export async function peopleScreen(app) {
  replace(app.main, h('p', null, app.t('common.soon')));
}
