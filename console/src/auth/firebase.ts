// Firebase Auth from the config the admin API serves, so one build runs against the emulator and production.
import { initializeApp } from 'firebase/app';
import { type Auth, connectAuthEmulator, getAuth } from 'firebase/auth';
import type { PublicConfig } from '../api/types';

export function startFirebaseAuth(config: PublicConfig): Auth {
  const app = initializeApp({
    apiKey: config.firebase.api_key,
    authDomain: config.firebase.auth_domain,
    projectId: config.firebase.project_id,
  });
  const auth = getAuth(app);
  auth.languageCode = 'pt-BR';
  if (config.auth_emulator_url) connectAuthEmulator(auth, config.auth_emulator_url, { disableWarnings: true });
  return auth;
}
