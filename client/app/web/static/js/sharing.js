import { h, replace } from './dom.js';

export async function sharingScreen(app) {
  replace(app.main, h('p', null, app.t('common.soon')));
}
