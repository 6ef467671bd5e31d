import { describe, expect, it } from 'vitest';
import { agent, outputField, trigger } from '../test/insightFixtures';
import { type BuilderForm, changeField, checkForm, emptyForm, formToSpec, moveField, newField, newTrigger, specToForm } from './builderForm';

function form(overrides: Partial<BuilderForm> = {}): BuilderForm {
  return { ...emptyForm(), name: ' Auditor ', prompt: ' Confirme o pagamento. ', ...overrides };
}

describe('formToSpec', () => {
  it('writes every field type with only the attributes its type takes', () => {
    const spec = formToSpec(
      form({
        fields: [
          { ...newField('string'), name: 'resumo', description: ' Resumo ', options: ['left over'], minimum: '3' },
          { ...newField('number'), name: 'nota', minimum: '0', maximum: '7,5', required: false },
          { ...newField('boolean'), name: 'pagou' },
          { ...newField('array'), name: 'dores', items: 'number', options: ['x'] },
          { ...newField('enum'), name: 'motivo', options: [' preço ', '', 'prazo'], items: 'boolean', maximum: '9' },
        ],
      }),
    );
    expect(spec.name).toBe('Auditor');
    expect(spec.prompt).toBe('Confirme o pagamento.');
    expect(spec.fields).toEqual([
      outputField({ name: 'resumo', type: 'string', description: 'Resumo' }),
      outputField({ name: 'nota', type: 'number', minimum: 0, maximum: 7.5, required: false }),
      outputField({ name: 'pagou', type: 'boolean' }),
      outputField({ name: 'dores', type: 'array', items: 'number' }),
      outputField({ name: 'motivo', type: 'enum', options: ['preço', 'prazo'] }),
    ]);
  });

  it('keeps keywords for a new message only, and reads throttles as whole numbers or none', () => {
    const spec = formToSpec(
      form({
        triggers: [
          { ...newTrigger('NEW_MESSAGE_RECEIVED'), keywords: 'paguei, comprovante ,, pix ', max_per_conversation: '1', conversation_window_minutes: '1440', max_per_day: '' },
          { ...newTrigger('TICKET_WON'), keywords: 'ignored', mode: 'copilot', min_lead_messages: '3', max_per_day: '50' },
        ],
        fields: [{ ...newField(), name: 'resumo' }],
      }),
    );
    expect(spec.triggers).toEqual([
      trigger({ trigger_id: '', keywords: ['paguei', 'comprovante', 'pix'], max_per_conversation: 1, conversation_window_minutes: 1440 }),
      trigger({ trigger_id: '', event: 'TICKET_WON', mode: 'copilot', min_lead_messages: 3, max_per_day: 50 }),
    ]);
  });

  it('sends a message field only when it names a text field, and a conversion only with marking won', () => {
    const fields = [{ ...newField('string'), name: 'mensagem' }, { ...newField('number'), name: 'valor' }];
    expect(formToSpec(form({ fields, message_field: 'mensagem' })).message_field).toBe('mensagem');
    expect(formToSpec(form({ fields, message_field: 'valor' })).message_field).toBeNull();
    expect(formToSpec(form({ fields, message_field: '' })).message_field).toBeNull();
    expect(formToSpec(form({ fields, apply_action: 'mark_won', send_conversion: true })).send_conversion).toBe(true);
    expect(formToSpec(form({ fields, apply_action: 'mark_lost', send_conversion: true })).send_conversion).toBe(false);
  });

  it('round-trips a stored agent through the form unchanged', () => {
    const stored = agent({
      agent_id: 'a1',
      name: 'Auditor de conversão',
      icon: '💰',
      triggers: [trigger({ trigger_id: 'abc', keywords: ['paguei', 'comprovante'], max_per_conversation: 1, conversation_window_minutes: 1440 })],
      fields: [
        outputField({ name: 'confirmada', type: 'boolean', description: 'Compra confirmada' }),
        outputField({ name: 'valor', type: 'number', minimum: 0, maximum: null, required: false }),
        outputField({ name: 'evidencia', type: 'string' }),
      ],
      apply_action: 'mark_won',
      message_field: 'evidencia',
      send_conversion: true,
      template: 'conversion_auditor',
    });
    const { agent_id, tenant_id, created_at, updated_at, created_by, macro, ...spec } = stored;
    expect(formToSpec(specToForm(stored))).toEqual(spec);
  });
});

describe('changeField and moveField', () => {
  it('takes the message field along when its field is renamed, and lets it go when it stops being text or is removed', () => {
    const start = form({ fields: [{ ...newField(), name: 'mensagem' }, { ...newField(), name: 'outro' }], message_field: 'mensagem' });
    const renamed = changeField(start, 0, { ...start.fields[0]!, name: 'mensagem_lead' });
    expect(renamed.message_field).toBe('mensagem_lead');
    expect(changeField(renamed, 0, { ...renamed.fields[0]!, type: 'number' }).message_field).toBe('');
    expect(changeField(renamed, 0, null)).toMatchObject({ message_field: '', fields: [{ name: 'outro' }] });
    expect(changeField(renamed, 1, null).message_field).toBe('mensagem_lead');
  });

  it('moves a field up and down, not past the ends', () => {
    const start = form({ fields: ['a', 'b', 'c'].map((name) => ({ ...newField(), name })) });
    expect(moveField(start, 2, -1).fields.map((field) => field.name)).toEqual(['a', 'c', 'b']);
    expect(moveField(start, 0, 1).fields.map((field) => field.name)).toEqual(['b', 'a', 'c']);
    expect(moveField(start, 0, -1)).toBe(start);
    expect(moveField(start, 2, 1)).toBe(start);
  });
});

describe('checkForm', () => {
  it('passes a complete agent', () => {
    expect(checkForm(form({ fields: [{ ...newField('enum'), name: 'motivo', options: ['preço', 'prazo'] }] }))).toEqual({});
  });

  it('names the problems by the paths the server uses', () => {
    const problems = checkForm(
      form({
        name: ' ',
        triggers: [{ ...newTrigger(), max_per_day: '2.5' }],
        fields: [
          { ...newField('enum'), name: 'motivo', options: ['preço', ' '] },
          { ...newField('enum'), name: 'canal', options: ['a', 'a'] },
          { ...newField(), name: 'Resumo' },
          { ...newField(), name: 'motivo' },
          { ...newField('number'), name: 'nota', minimum: '10', maximum: '2' },
          { ...newField('number'), name: 'valor', minimum: 'abc' },
        ],
      }),
    );
    expect(problems).toEqual({
      name: ['Obrigatório.'],
      'triggers.0': ['Informe um número inteiro (ou deixe em branco).'],
      'fields.0': ['Um campo de opções precisa de 2 a 20 opções.'],
      'fields.1': ['Há opções repetidas.'],
      'fields.2': ['Use letras minúsculas, números e _, começando por uma letra (até 40).'],
      'fields.3': ['O nome motivo já é de outro campo.'],
      'fields.4': ['O mínimo está acima do máximo.'],
      'fields.5': ['Informe um número.'],
    });
  });

  it('asks for at least one trigger and one field', () => {
    expect(checkForm(form({ triggers: [], fields: [] }))).toEqual({
      triggers: ['Adicione pelo menos um gatilho.'],
      fields: ['Adicione pelo menos um campo.'],
    });
  });
});
