// Sign in or sign up with email and password, or with Google in a popup.
import {
  type Auth,
  GoogleAuthProvider,
  createUserWithEmailAndPassword,
  signInWithEmailAndPassword,
  signInWithPopup,
} from 'firebase/auth';
import { type FormEvent, useState } from 'react';
import { errorText } from '../i18n/format';
import { t } from '../i18n/pt-BR';

export function SignInPage({ auth }: { auth: Auth }) {
  const [mode, setMode] = useState<'signin' | 'signup'>('signin');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function run(action: () => Promise<unknown>) {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    void run(() =>
      mode === 'signin'
        ? signInWithEmailAndPassword(auth, email.trim(), password)
        : createUserWithEmailAndPassword(auth, email.trim(), password),
    );
  }

  return (
    <div className="center-page">
      <form className="card auth-card" onSubmit={submit} data-testid="auth-form" data-mode={mode}>
        <h1>{mode === 'signin' ? t.auth.signInTitle : t.auth.signUpTitle}</h1>
        <label>
          {t.auth.email}
          <input
            type="email"
            autoComplete="email"
            required
            value={email}
            onChange={(event) => setEmail(event.target.value)}
            data-testid="auth-email"
          />
        </label>
        <label>
          {t.auth.password}
          <input
            type="password"
            autoComplete={mode === 'signin' ? 'current-password' : 'new-password'}
            required
            minLength={6}
            value={password}
            onChange={(event) => setPassword(event.target.value)}
            data-testid="auth-password"
          />
        </label>
        {error ? (
          <div className="error-banner" role="alert" data-testid="auth-error">
            {errorText(error)}
          </div>
        ) : null}
        <button type="submit" className="primary" disabled={busy} data-testid="auth-submit">
          {mode === 'signin' ? t.auth.signIn : t.auth.signUp}
        </button>
        <div className="divider">{t.auth.or}</div>
        <button
          type="button"
          disabled={busy}
          onClick={() => void run(() => signInWithPopup(auth, new GoogleAuthProvider()))}
          data-testid="auth-google"
        >
          {t.auth.google}
        </button>
        <button
          type="button"
          className="link"
          onClick={() => {
            setError(null);
            setMode(mode === 'signin' ? 'signup' : 'signin');
          }}
          data-testid={mode === 'signin' ? 'auth-mode-signup' : 'auth-mode-signin'}
        >
          {mode === 'signin' ? t.auth.toSignUp : t.auth.toSignIn}
        </button>
      </form>
    </div>
  );
}
