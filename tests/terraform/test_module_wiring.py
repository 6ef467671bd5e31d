"""The Terraform module matches the code: functions, invokers, topics, queues, settings.

Terraform cannot download providers here, so these tests read the HCL (python-hcl2) and hold
it against what the code says: the folders of functions/, their functions-framework
decorators, shared/events/topology.py and shared/settings.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from shared.events.topology import SUBSCRIPTIONS, TOPICS
from shared.settings import Settings, variable_name
from tests.terraform.hcl import (
    ENVIRONMENTS,
    MODULE,
    ROOT,
    TerraformDirectory,
    block,
    duration_seconds,
    expression,
    load,
)

# The only endpoints that accept unauthenticated HTTP: they authenticate each request themselves
# (provider signatures, Firebase ID tokens, Stripe signatures).
PUBLIC_ENDPOINTS = frozenset({"webhook", "admin", "billing"})

# Cloud Tasks targets, by the setting that holds the target's URL (shared/events/tasks.py).
TASK_TARGETS = {
    "PILOTO_TURN_URL": "turn",
    "PILOTO_FOLLOWUP_URL": "followup",
    "PILOTO_REMINDER_URL": "reminder",
    "PILOTO_DELIVERY_URL": "delivery",
}

# Cloud Scheduler targets (scheduler.tf): the hourly digest and the 5-minute outbox sweep.
SCHEDULED = frozenset({"digest", "outbox"})

# Who publishes to which topic setting: the webhook (shared/webhooks.py) the events, turns and
# follow-ups (shared/engine.py outbound_publisher) the outbound messages; insight events
# (shared/insights/events.py) the agent (a lead's message), followup (an idle conversation) and
# the admin API (closed won or lost, a macro press).
PUBLISHERS = {
    "events_topic": {"webhook"},
    "outbound_topic": {"turn", "followup"},
    "insight_topic": {"agent", "followup", "admin"},
    # Business events (shared/integrations): turns, follow-ups, the admin API (a close, an
    # applied insight, a seller's booking cancel, the public API) and the insight agents; the
    # outbox sweep publishes again those whose publish after the commit failed.
    "business_events_topic": {"turn", "followup", "admin", "insights", "outbox"},
}

DECORATOR = re.compile(r"@functions_framework\.(http|cloud_event)\s*\ndef (\w+)\(")


def function_folders() -> list[str]:
    """Every folder of functions/ is a function (functions/<name>/main.py, target <name>)."""
    return sorted(
        path.name
        for path in (ROOT / "functions").iterdir()
        if path.is_dir() and not path.name.startswith(("_", "."))
    )


@pytest.fixture(scope="module")
def module() -> TerraformDirectory:
    return load(MODULE)


@pytest.fixture(scope="module")
def functions(module: TerraformDirectory) -> dict[str, dict[str, Any]]:
    catalogue = module.locals["functions"]
    assert isinstance(catalogue, dict)
    return catalogue


def resolve_env(module: TerraformDirectory, value: Any) -> dict[str, Any]:
    """Resolve an env map: a literal map, a local, or merge() of locals and literal maps."""
    if isinstance(value, dict):
        return value
    text = expression(value)
    if text == "{}":
        return {}
    local = re.fullmatch(r"local\.(\w+)", text)
    if local:
        return resolve_env(module, module.locals[local.group(1)])
    merged = re.fullmatch(r"merge\((.*)\)", text, flags=re.S)
    assert merged, f"cannot read env map {text!r}"
    result: dict[str, Any] = {}
    for part in merged.group(1).split(","):
        result.update(resolve_env(module, "${" + part.strip() + "}"))
    return result


def function_env(module: TerraformDirectory, name: str) -> dict[str, Any]:
    """The environment Terraform gives one function (common settings + its own)."""
    return {
        **resolve_env(module, module.locals["common_env"]),
        **resolve_env(module, module.locals["function_env"][name]),
    }


# Functions, services, accounts


@pytest.mark.parametrize("name", function_folders())
def test_every_function_folder_has_a_service_and_an_account(
    module: TerraformDirectory, functions: dict[str, dict[str, Any]], name: str
) -> None:
    assert name in functions, f"functions/{name} has no entry in run.tf's local.functions"
    service = module.resource("google_cloud_run_v2_service", "function")
    assert expression(service["for_each"]) == "local.functions"
    assert service["name"] == "piloto-${each.key}"
    account = module.resource("google_service_account", "function")
    assert expression(account["for_each"]) == "local.functions"
    assert block(service, "template")["service_account"] == (
        "${google_service_account.function[each.key].email}"
    )
    assert name in module.locals["function_project_roles"], f"{name} has no roles"


@pytest.mark.parametrize("name", function_folders())
def test_the_signature_type_matches_the_functions_decorator(
    functions: dict[str, dict[str, Any]], name: str
) -> None:
    source = (ROOT / "functions" / name / "main.py").read_text(encoding="utf-8")
    decorated = {target: kind for kind, target in DECORATOR.findall(source)}
    assert name in decorated, f"functions/{name}/main.py defines no decorated {name}()"
    expected = "cloudevent" if decorated[name] == "cloud_event" else "http"
    assert functions[name]["signature_type"] == expected


def test_the_image_selects_the_function_from_the_environment(module: TerraformDirectory) -> None:
    containers = block(
        block(module.resource("google_cloud_run_v2_service", "function"), "template"), "containers"
    )
    env = expression(block(containers, "dynamic")["env"]["for_each"])
    assert "FUNCTION_TARGET = each.key" in env
    assert "FUNCTION_SIGNATURE_TYPE = each.value.signature_type" in env
    assert "THREADS = tostring(each.value.concurrency)" in env


def test_ci_owns_the_image(module: TerraformDirectory) -> None:
    lifecycle = block(module.resource("google_cloud_run_v2_service", "function"), "lifecycle")
    ignored = [expression(item) for item in lifecycle["ignore_changes"]]
    assert "template[0].containers[0].image" in ignored


def test_every_service_scales_to_zero_with_deliberate_limits(
    module: TerraformDirectory, functions: dict[str, dict[str, Any]]
) -> None:
    template = block(module.resource("google_cloud_run_v2_service", "function"), "template")
    scaling = block(template, "scaling")
    assert expression(scaling["min_instance_count"]) == "lookup(var.min_instances, each.key, 0)"
    assert module.variables["min_instances"]["default"] == {}
    assert expression(template["max_instance_request_concurrency"]) == "each.value.concurrency"
    for name, function in functions.items():
        assert 1 <= function["concurrency"] <= 1000, name
        assert 1 <= function["max_instances"] <= 100, name
        assert function["cpu"] in {"1", "2", "4"}, name
        assert duration_seconds(function["timeout"]) <= 3600, name
    # The webhook is the light path: small, and many requests per instance.
    webhook = functions["webhook"]
    assert webhook["memory"] in {"128Mi", "256Mi", "512Mi"}
    assert webhook["cpu"] == "1"
    assert webhook["concurrency"] >= 40


# Invokers: who may call what


def test_each_function_has_the_invoker_its_callers_need(
    functions: dict[str, dict[str, Any]],
) -> None:
    pushed_to = {subscription.push_to for subscription in SUBSCRIPTIONS if subscription.push_to}
    for name, function in functions.items():
        if name in PUBLIC_ENDPOINTS:
            expected = "public"
        elif name in pushed_to:
            expected = "pubsub"
        elif name in TASK_TARGETS.values():
            expected = "tasks"
        elif name in SCHEDULED:
            expected = "scheduler"
        else:
            expected = "none"
        assert function["invoker"] == expected, name


def test_invoker_grants_follow_the_catalogue(module: TerraformDirectory) -> None:
    public = module.resource("google_cloud_run_v2_service_iam_member", "public")
    assert 'function.invoker == "public"' in expression(public["for_each"])
    assert public["member"] == "allUsers"
    assert public["role"] == "roles/run.invoker"

    push = module.resource("google_cloud_run_v2_service_iam_member", "pubsub_push")
    assert expression(push["for_each"]) == "local.push_subscriptions"
    assert push["name"] == "${google_cloud_run_v2_service.function[each.value.function].name}"
    assert push["member"] == "serviceAccount:${google_service_account.push[each.key].email}"

    tasks = module.resource("google_cloud_run_v2_service_iam_member", "tasks")
    assert 'function.invoker == "tasks"' in expression(tasks["for_each"])
    assert tasks["member"] == "serviceAccount:${google_service_account.tasks.email}"
    assert {push["role"], tasks["role"]} == {"roles/run.invoker"}


def test_only_the_public_endpoints_grant_all_users(
    module: TerraformDirectory, functions: dict[str, dict[str, Any]]
) -> None:
    granting = [
        f"{kind}.{name}"
        for kind, name, body in module.all_resources()
        if any(
            "allUsers" in str(body.get(key, ""))
            or "allAuthenticatedUsers" in str(body.get(key, ""))
            for key in ("member", "members")
        )
    ]
    assert granting == ["google_cloud_run_v2_service_iam_member.public"]
    public = {name for name, function in functions.items() if function["invoker"] == "public"}
    assert public <= PUBLIC_ENDPOINTS


def test_private_services_take_internal_traffic_only(module: TerraformDirectory) -> None:
    service = module.resource("google_cloud_run_v2_service", "function")
    assert expression(service["ingress"]) == (
        'each.value.invoker == "public" ? "INGRESS_TRAFFIC_ALL" : "INGRESS_TRAFFIC_INTERNAL_ONLY"'
    )


# Pub/Sub


def test_every_topic_the_code_publishes_to_exists(module: TerraformDirectory) -> None:
    topics = expression(module.locals["topics"])
    declared = set(re.findall(r'"([^"]+)"', topics))
    assert set(TOPICS) <= declared
    for setting in PUBLISHERS:
        assert getattr(Settings(project_id="p"), setting) in declared, setting
    topic = module.resource("google_pubsub_topic", "app")
    assert expression(topic["for_each"]) == "local.topics"
    assert block(topic, "message_storage_policy")["allowed_persistence_regions"] == [
        "${var.region}"
    ]


def test_publishers_may_publish_where_the_code_publishes(module: TerraformDirectory) -> None:
    granted: dict[str, set[str]] = {}
    for grant in module.locals["topic_publishers"].values():
        granted.setdefault(grant["topic"], set()).add(grant["function"])
    defaults = Settings(project_id="p")
    for setting, publishers in PUBLISHERS.items():
        topic = getattr(defaults, setting)
        assert publishers <= granted.get(topic, set()), topic
        # Each publisher is told the topic's name (the code reads it from this setting).
        topic_ref = f'${{google_pubsub_topic.app["{topic}"].name}}'
        for name in publishers:
            assert function_env(module, name)[variable_name(setting)] == topic_ref, name
    publisher = module.resource("google_pubsub_topic_iam_member", "publisher")
    assert publisher["role"] == "roles/pubsub.publisher"
    assert (
        publisher["member"]
        == "serviceAccount:${google_service_account.function[each.value.function].email}"
    )


@pytest.mark.parametrize(
    "subscription",
    [subscription for subscription in SUBSCRIPTIONS if subscription.push_to],
    ids=lambda subscription: subscription.name,
)
def test_every_push_subscription_is_authenticated_dead_lettered_and_ordered_as_the_code_says(
    module: TerraformDirectory, functions: dict[str, dict[str, Any]], subscription: Any
) -> None:
    declared = module.locals["push_subscriptions"].get(subscription.name)
    assert declared, f"pubsub.tf does not declare {subscription.name}"
    assert declared["topic"] == subscription.topic
    assert declared["function"] == subscription.push_to
    assert declared["ordered"] is subscription.ordered
    assert 5 <= declared["max_delivery_attempts"] <= 100
    assert declared["ack_deadline_seconds"] == subscription.ack_deadline_seconds
    # Pub/Sub waits ack_deadline_seconds for the push answer: never less than the service runs.
    timeout = duration_seconds(functions[subscription.push_to]["timeout"])
    assert declared["ack_deadline_seconds"] >= timeout

    push = module.resource("google_pubsub_subscription", "push")
    assert expression(push["for_each"]) == "local.push_subscriptions"
    assert push["topic"] == "${google_pubsub_topic.app[each.value.topic].id}"
    assert push["enable_message_ordering"] == "${each.value.ordered}"
    push_config = block(push, "push_config")
    assert push_config["push_endpoint"] == (
        "${google_cloud_run_v2_service.function[each.value.function].uri}"
    )
    assert block(push_config, "oidc_token")["service_account_email"] == (
        "${google_service_account.push[each.key].email}"
    )
    retry = block(push, "retry_policy")
    assert duration_seconds(retry["minimum_backoff"]) < duration_seconds(retry["maximum_backoff"])
    dead_letter = block(push, "dead_letter_policy")
    assert dead_letter["dead_letter_topic"] == "${google_pubsub_topic.dead_letter[each.key].id}"
    assert dead_letter["max_delivery_attempts"] == "${each.value.max_delivery_attempts}"


def test_dead_letters_are_forwarded_and_kept(module: TerraformDirectory) -> None:
    agent = "${local.pubsub_service_agent}"
    publisher = module.resource("google_pubsub_topic_iam_member", "dead_letter_publisher")
    assert (publisher["role"], publisher["member"]) == ("roles/pubsub.publisher", agent)
    assert expression(publisher["for_each"]) == "local.push_subscriptions"
    subscriber = module.resource("google_pubsub_subscription_iam_member", "dead_letter_subscriber")
    assert (subscriber["role"], subscriber["member"]) == ("roles/pubsub.subscriber", agent)
    assert subscriber["subscription"] == "${google_pubsub_subscription.push[each.key].name}"
    kept = module.resource("google_pubsub_subscription", "dead_letter")
    assert kept["topic"] == "${google_pubsub_topic.dead_letter[each.key].id}"
    assert expression(kept["for_each"]) == "local.push_subscriptions"


# Cloud Tasks


def test_every_queue_the_code_uses_exists(module: TerraformDirectory) -> None:
    queues = module.locals["task_queues"]
    assert set(queues) == {"turns", "followups", "deliveries"}
    resource = module.resource("google_cloud_tasks_queue", "queue")
    assert expression(resource["for_each"]) == "local.task_queues"
    assert resource["location"] == "${var.region}"
    assert block(resource, "rate_limits")
    assert block(resource, "retry_config")
    for name, queue in queues.items():
        assert queue["max_attempts"] >= 3, name
        assert queue["max_dispatches_per_second"] > 0, name
        assert duration_seconds(queue["min_backoff"]) < duration_seconds(queue["max_backoff"])
    assert module.variables["turns_queue_name"]["default"] == "piloto-turns"
    assert module.variables["followups_queue_name"]["default"] == "piloto-followups"
    assert module.variables["deliveries_queue_name"]["default"] == "piloto-deliveries"

    env = {name: function_env(module, name) for name in ("agent", "turn", "followup")}
    assert env["agent"]["PILOTO_TASKS_QUEUE"] == '${local.queue_paths["turns"]}'
    for name in ("turn", "followup"):
        assert env[name]["PILOTO_FOLLOWUP_QUEUE"] == '${local.queue_paths["followups"]}'
    for name in ("integrations", "delivery", "admin", "digest", "turn", "followup", "billing"):
        assert function_env(module, name)["PILOTO_DELIVERY_QUEUE"] == (
            '${local.queue_paths["deliveries"]}'
        )


def test_task_creators_may_enqueue_and_name_the_tasks_account(module: TerraformDirectory) -> None:
    enqueuers = {
        (grant["queue"], grant["function"]) for grant in module.locals["queue_enqueuers"].values()
    }
    assert enqueuers == {
        ("turns", "agent"),
        ("followups", "turn"),
        ("followups", "followup"),
        ("deliveries", "integrations"),
        ("deliveries", "delivery"),
        ("deliveries", "admin"),
        ("deliveries", "digest"),
        ("deliveries", "turn"),
        ("deliveries", "followup"),
        ("deliveries", "billing"),
    }
    acting = module.resource("google_service_account_iam_member", "tasks_user")
    assert acting["role"] == "roles/iam.serviceAccountUser"
    assert acting["service_account_id"] == "${google_service_account.tasks.name}"
    assert set(re.findall(r'"(\w+)"', expression(acting["for_each"]))) == {
        function for _, function in enqueuers
    }
    for name in ("agent", "turn", "followup", "integrations", "delivery", "admin", "digest"):
        env = function_env(module, name)
        assert env["PILOTO_TASKS_SERVICE_ACCOUNT"] == "${google_service_account.tasks.email}"


def test_tasks_target_the_right_services(module: TerraformDirectory) -> None:
    for setting, target in TASK_TARGETS.items():
        callers = [
            name for name in module.locals["functions"] if setting in function_env(module, name)
        ]
        assert callers, f"no function is given {setting}"
        for caller in callers:
            assert function_env(module, caller)[setting] == (f'${{local.service_urls["{target}"]}}')


# Settings


def test_every_setting_terraform_sets_is_one_the_code_reads(module: TerraformDirectory) -> None:
    known = {variable_name(field) for field in Settings.__dataclass_fields__}
    for name in module.locals["functions"]:
        for variable in function_env(module, name):
            assert variable in known, f"{name}: {variable} is not a setting of shared/settings.py"


def test_functions_get_the_settings_they_cannot_start_without(module: TerraformDirectory) -> None:
    required = {
        "agent": {"PILOTO_TASKS_QUEUE", "PILOTO_TURN_URL"},  # shared.engine.build_engine
        "followup": {"PILOTO_FOLLOWUP_URL", "PILOTO_FOLLOWUP_QUEUE"},  # build_followup_runner
        "turn": {"PILOTO_FOLLOWUP_URL", "PILOTO_FOLLOWUP_QUEUE", "PILOTO_LLM"},
        "webhook": {"PILOTO_PUBLIC_BASE_URL"},  # Twilio signs the public URL
        # shared.insights.runner: the fast and the precise model.
        "insights": {"PILOTO_LLM", "PILOTO_GEMINI_MODEL", "PILOTO_GEMINI_PRECISE_MODEL"},
        # The console's Firebase config (/api/config), the webhook URL shown to users, and
        # channel secrets saved to Secret Manager; Stripe Checkout and the Customer Portal.
        "admin": {
            "PILOTO_FIREBASE_WEB_API_KEY",
            "PILOTO_FIREBASE_AUTH_DOMAIN",
            "PILOTO_PUBLIC_BASE_URL",
            "PILOTO_SECRET_STORE",
            "PILOTO_STRIPE_API_BASE",
            "PILOTO_STRIPE_SECRET_KEY",
            "PILOTO_CONSOLE_URL",
        },
        # shared.billing.webhooks: the signing secret, and the API to retrieve subscriptions.
        "billing": {
            "PILOTO_STRIPE_API_BASE",
            "PILOTO_STRIPE_SECRET_KEY",
            "PILOTO_STRIPE_WEBHOOK_SECRET",
        },
    }
    for name in module.locals["functions"]:
        env = function_env(module, name)
        assert "GOOGLE_CLOUD_PROJECT" in env, name
        assert required.get(name, set()) <= env.keys(), name


def test_functions_that_call_a_model_may_call_vertex_ai(module: TerraformDirectory) -> None:
    roles = module.locals["function_project_roles"]
    callers = [
        name for name in module.locals["functions"] if "PILOTO_LLM" in function_env(module, name)
    ]
    assert {"agent", "turn", "followup", "admin", "insights"} <= set(callers)
    for name in callers:
        assert "roles/aiplatform.user" in roles[name], name


def test_the_insights_function_is_pushed_insight_events_and_keeps_firestore(
    module: TerraformDirectory, functions: dict[str, dict[str, Any]]
) -> None:
    [subscription] = [s for s in SUBSCRIPTIONS if s.push_to == "insights"]
    assert subscription.topic == Settings(project_id="p").insight_topic == "insight-events"
    assert subscription.ordered is False  # every insight event stands alone
    assert functions["insights"]["invoker"] == "pubsub"
    assert functions["insights"]["signature_type"] == "cloudevent"
    # Agents, conversations, insights and throttle counters are read and written in transactions.
    assert "roles/datastore.user" in module.locals["function_project_roles"]["insights"]
    variable = module.variables["gemini_precise_model"]
    assert variable["default"] == Settings(project_id="p").gemini_precise_model


def test_every_google_api_the_settings_point_at_is_enabled(module: TerraformDirectory) -> None:
    enabled = set(re.findall(r'"([a-z0-9-]+\.googleapis\.com)"', expression(module.locals["apis"])))
    called = {
        match.group(1)
        for item in Settings.__dataclass_fields__.values()
        if item.name.endswith("_endpoint") and isinstance(item.default, str)
        for match in [re.fullmatch(r"https://([a-z0-9-]+\.googleapis\.com)/?", item.default)]
        if match
    }
    assert "texttospeech.googleapis.com" in called  # PILOTO_TTS_ENDPOINT (voice replies)
    assert called <= enabled, f"not enabled in apis.tf: {sorted(called - enabled)}"


# Secrets


def test_channel_secrets_are_reachable_only_under_their_prefix(module: TerraformDirectory) -> None:
    prefix = expression(module.locals["channel_secret_prefix"])
    assert prefix.endswith("/secrets/piloto-channel-")
    assert "data.google_project.main.number" in prefix
    assert "startsWith" in module.locals["channel_secret_condition"]["expression"]

    readers = module.resource("google_project_iam_member", "channel_secret_reader")
    assert readers["role"] == "roles/secretmanager.secretAccessor"
    assert block(readers, "condition")["expression"] == (
        "${local.channel_secret_condition.expression}"
    )
    assert set(re.findall(r'"(\w+)"', module.locals["channel_secret_readers"])) == {
        "webhook",
        "sender",
    }

    writer = module.resource("google_project_iam_member", "admin_channel_secret_writer")
    assert writer["member"] == 'serviceAccount:${google_service_account.function["admin"].email}'
    assert block(writer, "condition")["expression"] == (
        "${local.channel_secret_condition.expression}"
    )
    permissions = module.resource("google_project_iam_custom_role", "channel_secret_writer")
    assert "secretmanager.versions.add" in permissions["permissions"]
    assert "secretmanager.versions.access" not in permissions["permissions"]
    creator = module.resource("google_project_iam_custom_role", "secret_creator")
    assert creator["permissions"] == ["secretmanager.secrets.create"]


def test_conversions_tokens_are_reachable_by_the_admin_api_only_under_their_prefix(
    module: TerraformDirectory,
) -> None:
    from shared.admin.insights import conversions_secret_name

    prefix = expression(module.locals["conversions_secret_prefix"])
    name = prefix.rsplit("/secrets/", 1)[1]
    assert conversions_secret_name("t1").startswith(name)
    assert "startsWith" in module.locals["conversions_secret_condition"]["expression"]
    admin = 'serviceAccount:${google_service_account.function["admin"].email}'
    reader = module.resource("google_project_iam_member", "admin_conversions_secret_reader")
    writer = module.resource("google_project_iam_member", "admin_conversions_secret_writer")
    assert reader["role"] == "roles/secretmanager.secretAccessor"
    for grant in (reader, writer):
        assert grant["member"] == admin
        assert block(grant, "condition")["expression"] == (
            "${local.conversions_secret_condition.expression}"
        )
    granted = [
        name
        for kind, name, body in module.all_resources()
        if kind == "google_project_iam_member"
        and "conversions_secret_condition" in str(body.get("condition", ""))
    ]
    assert sorted(granted) == ["admin_conversions_secret_reader", "admin_conversions_secret_writer"]


SECRET_REFERENCE = re.compile(
    r'sm:\$\{google_secret_manager_secret\.app\["([\w-]+)"\]\.secret_id\}'
)


def test_app_secrets_exist_and_only_their_users_read_them(
    module: TerraformDirectory, functions: dict[str, dict[str, Any]]
) -> None:
    declared = {**module.locals["billing_secrets"], **module.locals["integration_secrets"]}
    secret = module.resource("google_secret_manager_secret", "app")
    assert expression(secret["for_each"]) == "local.app_secrets"
    assert expression(module.locals["app_secrets"]) == (
        "merge(local.billing_secrets, local.integration_secrets, var.app_secrets)"
    )
    assert "local.app_secrets" in expression(module.locals["app_secret_grants"])
    # Every sm: reference a function is given names a declared secret its account may read.
    readers: dict[str, set[str]] = {}
    for name in functions:
        for setting, value in function_env(module, name).items():
            if not str(value).startswith("sm:"):
                continue
            reference = SECRET_REFERENCE.fullmatch(value)
            assert reference, f"{name}: {setting} is not an sm: reference to a declared secret"
            secret_id = reference.group(1)
            assert secret_id in declared, f"{name}: {secret_id} is not declared"
            assert name in declared[secret_id]["readers"], f"{name} cannot read {secret_id}"
            readers.setdefault(secret_id, set()).add(name)
    assert readers == {
        "piloto-stripe-secret-key": {"admin", "billing"},
        "piloto-stripe-webhook-secret": {"billing"},
        "piloto-google-oauth-client-secret": {"admin", "turn"},
        "piloto-oauth-state-secret": {"admin"},
        "piloto-smtp-password": {"delivery", "digest"},
        "piloto-sendgrid-api-key": {"delivery", "digest"},
    }
    # Nobody else reads them.
    assert {key: set(value["readers"]) for key, value in declared.items()} == readers


def test_tenant_integration_secrets_are_reachable_only_under_their_prefix(
    module: TerraformDirectory,
) -> None:
    from shared.secret_store import tenant_secret_name

    prefix = expression(module.locals["tenant_secret_prefix"])
    name = prefix.rsplit("/secrets/", 1)[1]
    for purpose in ("google-calendar", "crm-token", "webhook-wh1"):
        assert tenant_secret_name("t1", purpose).startswith(name)
    assert "startsWith" in module.locals["tenant_secret_condition"]["expression"]
    readers = module.resource("google_project_iam_member", "tenant_secret_reader")
    assert readers["role"] == "roles/secretmanager.secretAccessor"
    assert block(readers, "condition")["expression"] == (
        "${local.tenant_secret_condition.expression}"
    )
    assert set(re.findall(r'"(\w+)"', module.locals["tenant_secret_readers"])) == {
        "admin",
        "turn",
        "delivery",
    }
    writer = module.resource("google_project_iam_member", "admin_tenant_secret_writer")
    assert writer["member"] == 'serviceAccount:${google_service_account.function["admin"].email}'


def test_the_digest_runs_hourly_as_the_scheduler_account(
    module: TerraformDirectory, functions: dict[str, dict[str, Any]]
) -> None:
    assert functions["digest"]["invoker"] == "scheduler"
    assert module.locals["scheduler_jobs"]["digest"]["schedule"] == "0 * * * *"
    invoker = module.resource("google_cloud_run_v2_service_iam_member", "scheduler")
    assert 'function.invoker == "scheduler"' in expression(invoker["for_each"])
    assert invoker["member"] == "serviceAccount:${google_service_account.scheduler.email}"
    assert "cloudscheduler.googleapis.com" in expression(module.locals["apis"])


def test_the_outbox_sweep_runs_every_five_minutes_as_the_scheduler_account(
    module: TerraformDirectory, functions: dict[str, dict[str, Any]]
) -> None:
    outbox = functions["outbox"]
    assert (outbox["invoker"], outbox["signature_type"]) == ("scheduler", "http")
    # One sweep at a time: two would publish the same events twice.
    assert (outbox["concurrency"], outbox["max_instances"]) == (1, 1)
    assert module.locals["scheduler_jobs"]["outbox"]["schedule"] == "*/5 * * * *"
    # The sweep reads and marks outbox documents and publishes; nothing else.
    assert module.locals["function_project_roles"]["outbox"] == ["roles/datastore.user"]
    assert expression(module.locals["function_env"]["outbox"]) == "{}"
    assert function_env(module, "outbox")["PILOTO_BUSINESS_EVENTS_TOPIC"] == (
        '${google_pubsub_topic.app["business-events"].name}'
    )
    # It enqueues no task and reads no secret.
    enqueuers = module.locals["queue_enqueuers"].values()
    assert not any(grant["function"] == "outbox" for grant in enqueuers)
    env = function_env(module, "outbox")
    assert not any(str(value).startswith("sm:") for value in env.values())


def test_every_scheduled_function_has_a_job_that_calls_it_with_the_schedulers_token(
    module: TerraformDirectory, functions: dict[str, dict[str, Any]]
) -> None:
    job = module.resource("google_cloud_scheduler_job", "job")
    assert expression(job["for_each"]) == "local.scheduler_jobs"
    assert (job["name"], job["time_zone"]) == ("piloto-${each.key}", "Etc/UTC")
    assert block(job, "retry_config")["retry_count"] >= 1
    # Cloud Scheduler waits as long as the function may run.
    assert job["attempt_deadline"] == "${local.functions[each.key].timeout}"
    target = block(job, "http_target")
    uri = "${google_cloud_run_v2_service.function[each.key].uri}"
    assert (target["http_method"], target["uri"]) == ("POST", uri)
    # The functions take an empty body or {} (functions/digest, functions/outbox).
    assert expression(target["body"]) == 'base64encode("{}")'
    assert block(target, "oidc_token") == {
        "service_account_email": "${google_service_account.scheduler.email}",
        "audience": uri,
    }
    scheduled = {name for name, function in functions.items() if function["invoker"] == "scheduler"}
    assert set(module.locals["scheduler_jobs"]) == scheduled == SCHEDULED
    # The digest's job kept its state when it became one of the jobs.
    moves = [{key: expression(value) for key, value in moved.items()} for moved in module.moved]
    assert {
        "from": "google_cloud_scheduler_job.digest",
        "to": 'google_cloud_scheduler_job.job["digest"]',
    } in moves


def test_the_billing_function_is_stripes_public_endpoint(
    module: TerraformDirectory, functions: dict[str, dict[str, Any]]
) -> None:
    billing = functions["billing"]
    assert (billing["invoker"], billing["signature_type"]) == ("public", "http")
    # Stripe wants a quick answer and retries failed deliveries: a short timeout.
    assert duration_seconds(billing["timeout"]) <= 60
    assert module.locals["function_project_roles"]["billing"] == ["roles/datastore.user"]
    assert module.outputs["billing_webhook_url"]["value"] == (
        '${tostring(local.service_urls["billing"])}'
    )
    assert (
        module.variables["stripe_api_base"]["default"] == Settings(project_id="p").stripe_api_base
    )
    env = function_env(module, "billing")
    assert env["PILOTO_STRIPE_API_BASE"] == "${var.stripe_api_base}"
    assert function_env(module, "admin")["PILOTO_CONSOLE_URL"] == "${local.console_url}"
    for name in ("dev", "prod"):
        outputs = load(ENVIRONMENTS / name).outputs
        assert outputs["billing_webhook_url"]["value"] == "${module.piloto.billing_webhook_url}"


def test_no_secret_value_is_in_terraform(module: TerraformDirectory) -> None:
    assert "google_secret_manager_secret_version" not in module.resources


# Firestore


def test_event_dedupe_records_expire(module: TerraformDirectory) -> None:
    ttl = module.resource("google_firestore_field", "events_ttl")
    assert (ttl["collection"], ttl["field"]) == ("events", "expire_at")
    assert "ttl_config" in ttl
    # Intake writes the field on every dedupe record (shared/intake.py).
    intake = (ROOT / "shared" / "intake.py").read_text(encoding="utf-8")
    assert f'"{ttl["field"]}": now + EVENT_RECORD_TTL' in intake


def test_the_inbox_queries_have_their_indexes(module: TerraformDirectory) -> None:
    filters = set(re.findall(r'"(\w+)"', module.locals["conversation_filters"]))
    assert filters == {"status", "assignee_uid", "stage", "channel_id", "needs_human"}
    index = module.resource("google_firestore_index", "conversations")
    assert expression(index["for_each"]) == "local.conversation_filters"
    assert (index["collection"], index["query_scope"]) == ("conversations", "COLLECTION")
    assert index["fields"] == [
        {"field_path": "${each.value}", "order": "ASCENDING"},
        {"field_path": "updated_at", "order": "DESCENDING"},
    ]


def test_single_field_queries_keep_their_indexes(module: TerraformDirectory) -> None:
    fields = set(re.findall(r'"(\w+)"', module.locals["conversation_single_fields"]))
    assert fields == {"contact_key", "created_at"}
    field = module.resource("google_firestore_field", "conversations")
    assert field["collection"] == "conversations"
    orders = {index["order"] for index in block(field, "index_config")["indexes"]}
    assert orders == {"ASCENDING", "DESCENDING"}


def test_the_integration_queries_have_their_indexes(module: TerraformDirectory) -> None:
    from shared.integrations.dispatch import DELIVERIES_COLLECTION

    deliveries = module.resource("google_firestore_index", "deliveries")
    # The collection the dispatcher writes and the admin API lists (tenants/{t}/event_deliveries).
    assert deliveries["collection"] == DELIVERIES_COLLECTION
    assert [(field["field_path"], field["order"]) for field in deliveries["fields"]] == [
        ("target_id", "ASCENDING"),
        ("created_at", "DESCENDING"),
    ]
    assert module.locals["notification_filters"] == {
        "all": ["recipient_uid", "console"],
        "unread": ["recipient_uid", "console", "read_at"],
    }
    notifications = module.resource("google_firestore_index", "notifications")
    assert notifications["collection"] == "notifications"
    assert [(field["field_path"], field["order"]) for field in notifications["fields"]] == [
        ("created_at", "DESCENDING")
    ]


def test_the_outbox_sweep_query_has_its_collection_group_index(module: TerraformDirectory) -> None:
    from shared.integrations.outbox import BUSINESS_EVENTS_COLLECTION

    index = module.resource("google_firestore_index", "business_events_outbox")
    assert (index["collection"], index["query_scope"]) == (
        BUSINESS_EVENTS_COLLECTION,
        "COLLECTION_GROUP",
    )
    assert [(field["field_path"], field["order"]) for field in index["fields"]] == [
        ("published_at", "ASCENDING"),
        ("occurred_at", "ASCENDING"),
    ]
    # The query it serves: published_at == null, occurred_at between two bounds, by occurred_at.
    source = (ROOT / "shared" / "integrations" / "outbox.py").read_text(encoding="utf-8")
    assert "client.collection_group(BUSINESS_EVENTS_COLLECTION)" in source
    assert 'FieldFilter("published_at", "==", None)' in source
    assert 'FieldFilter("occurred_at", ">=",' in source
    assert 'FieldFilter("occurred_at", "<=",' in source
    assert '.order_by("occurred_at")' in source


# Variables and outputs


TYPED_OUTPUT = re.compile(r"^(tostring|tonumber|tobool|tomap|tolist|toset)\(|^module\.piloto\.\w+$")


@pytest.mark.parametrize(
    "directory",
    [MODULE, *sorted(path for path in ENVIRONMENTS.iterdir() if path.is_dir())],
    ids=lambda path: path.relative_to(ROOT).as_posix(),
)
def test_every_variable_and_output_is_typed_and_described(directory: Any) -> None:
    terraform = load(directory)
    for name, variable in terraform.variables.items():
        assert variable.get("type"), f"variable {name} has no type"
        assert str(variable.get("description", "")).strip(), f"variable {name} has no description"
    for name, output in terraform.outputs.items():
        assert str(output.get("description", "")).strip(), f"output {name} has no description"
        # Terraform has no `type` argument on outputs: a conversion function types the value
        # (a module output is typed in the module).
        assert TYPED_OUTPUT.match(expression(output["value"])), f"output {name} is not typed"
