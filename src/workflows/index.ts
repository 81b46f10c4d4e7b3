export { releaseWorkflow } from './release';
export { freezeRegistryWorkflow } from './freeze-registry';
export { targetWorkflow } from './target';
