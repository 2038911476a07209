export { describeConfig, describePolicy } from './commands/check-config.js';
export { ConfigProblems, formatProblems, loadConfig, readConfigFile } from './config-file.js';
export { CliError, type Io, processIo } from './io.js';
export { main, version } from './main.js';
export { DEFAULT_STORE_SPEC, openStore, parseStoreSpec, redactSpec, type StoreSpec } from './store-spec.js';
export { USAGE } from './usage.js';
