using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using k8s.Models;
using Npgsql;

namespace Pipeline.OrderService.Tests.Deployment;

/// <summary>deploy/kubernetes checked against the service itself: probes and scrape annotations name routes a replica maps,
/// on the port it listens on; every environment variable is a setting the service binds; the grace period outlasts the
/// shutdown timeout; credentials come from Secrets; pods run unprivileged on a read-only root; the migration runs as the
/// owner role and grants the role the replicas log in as; kustomizations name files that exist. No services needed.</summary>
public sealed partial class KubernetesManifestTests(DeploymentManifests manifests) : IClassFixture<DeploymentManifests>
{
    private const string Replicas = "order-service";

    [Fact]
    public void Every_manifest_loads_into_KubernetesClient_typed_models()
    {
        Assert.True(manifests.LoadErrors.Count == 0, string.Join("\n", manifests.LoadErrors));
        Assert.NotEmpty(DeploymentManifests.ManifestFiles);
        var kinds = manifests.Objects(DeploymentManifests.Base).Select(o => o.GetType()).ToHashSet();
        foreach (var kind in new[] { typeof(V1Deployment), typeof(V1Service), typeof(V1PodDisruptionBudget), typeof(V1Job) })
        {
            Assert.True(kinds.Contains(kind), $"the base has no {kind.Name}");
        }
    }

    [Fact]
    public void Kustomizations_name_files_that_exist_and_use_every_manifest()
    {
        var problems = new List<string>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        Assert.Contains(DeploymentManifests.Base, manifests.Kustomizations.Keys);
        foreach (var (folder, kustomization) in manifests.Kustomizations)
        {
            foreach (var reference in kustomization.ReferencedPaths())
            {
                var full = Path.GetFullPath(Path.Combine(DeploymentManifests.Folder, folder, reference));
                var exists = File.Exists(full) || File.Exists(Path.Combine(full, "kustomization.yaml"));
                if (!exists)
                {
                    problems.Add($"{folder}/kustomization.yaml names {reference}: no such file or kustomization folder");
                }

                used.Add(Path.GetRelativePath(DeploymentManifests.Folder, full).Replace(Path.DirectorySeparatorChar, '/'));
            }
        }

        problems.AddRange(DeploymentManifests.ManifestFiles.Where(f => !used.Contains(f)).Select(f => $"{f} is in no kustomization"));
        if (manifests.Kustomizations.TryGetValue(DeploymentManifests.Base, out var baseKustomization) && baseKustomization.SecretGenerator is { Count: > 0 })
        {
            problems.Add("the base generates Secrets: credentials belong to an environment (an overlay or the cluster)");
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Theory]
    [MemberData(nameof(DeploymentManifests.Builds), MemberType = typeof(DeploymentManifests))]
    public async Task Probes_and_scrape_annotations_name_routes_a_replica_maps_on_the_port_it_listens_on(string build)
    {
        var objects = manifests.Objects(build);
        var (deployment, container) = ReplicaContainer(objects);
        var replica = await ServiceSettings.ReplicaAsync(ContainerSettings(container));
        var problems = new List<string>();
        Assert.Equal(3, deployment.Spec.Replicas);

        var probes = new (string Name, V1Probe? Probe, string? Path)[]
        {
            ("startupProbe", container.StartupProbe, null), ("livenessProbe", container.LivenessProbe, "/health/live"),
            ("readinessProbe", container.ReadinessProbe, "/health/ready"),
        };
        foreach (var (name, probe, expected) in probes)
        {
            if (probe?.HttpGet is not { } get)
            {
                problems.Add($"{name}: no httpGet probe");
                continue;
            }

            if (expected is not null && get.Path != expected)
            {
                problems.Add($"{name}: path {get.Path}, expected {expected}");
            }

            problems.AddRange(RouteAndPort($"{name}", get.Path, PortNumber(container, get.Port?.Value), replica));
        }

        var annotations = deployment.Spec.Template.Metadata?.Annotations ?? new Dictionary<string, string>();
        if (!annotations.TryGetValue("prometheus.io/scrape", out var scrape) || scrape != "true")
        {
            problems.Add("prometheus.io/scrape is not \"true\"");
        }

        annotations.TryGetValue("prometheus.io/path", out var metricsPath);
        annotations.TryGetValue("prometheus.io/port", out var metricsPort);
        if (metricsPath != "/metrics")
        {
            problems.Add($"prometheus.io/path is {metricsPath ?? "missing"}, expected /metrics");
        }

        problems.AddRange(RouteAndPort("prometheus.io annotations", metricsPath, PortNumber(container, metricsPort), replica));
        problems.AddRange(SelectorProblems(objects, deployment, replica));
        Assert.True(problems.Count == 0, $"{string.Join("\n", problems)}\nthe replica: {replica}");
    }

    [Theory]
    [MemberData(nameof(DeploymentManifests.Builds), MemberType = typeof(DeploymentManifests))]
    public async Task The_grace_period_outlasts_the_shutdown_timeout(string build)
    {
        var (deployment, container) = ReplicaContainer(manifests.Objects(build));
        var replica = await ServiceSettings.ReplicaAsync(ContainerSettings(container));
        // Kubernetes' default when the field is absent.
        var grace = TimeSpan.FromSeconds(deployment.Spec.Template.Spec.TerminationGracePeriodSeconds ?? 30);
        Assert.True(grace > replica.ShutdownTimeout,
            $"terminationGracePeriodSeconds {grace.TotalSeconds} s does not exceed Pipeline:ShutdownTimeout {replica.ShutdownTimeout.TotalSeconds} s: the kubelet would kill a replica still resigning");
    }

    [Theory]
    [MemberData(nameof(DeploymentManifests.BuildsAndFiles), MemberType = typeof(DeploymentManifests))]
    public void Every_environment_variable_is_a_setting_the_service_reads(string source)
    {
        var problems = new List<string>();
        foreach (var (owner, _, container) in DeploymentManifests.Containers(manifests.Objects(source)))
        {
            foreach (var variable in container.Env ?? [])
            {
                if (ServiceSettings.Problem(variable.Name, variable.ValueFrom is null ? variable.Value ?? "" : null) is { } problem)
                {
                    problems.Add($"{owner}: {problem}");
                }
            }

            if (container.EnvFrom is { Count: > 0 })
            {
                problems.Add($"{owner}: envFrom hides which settings it sets; name each variable");
            }

            if (source == DeploymentManifests.EveryFile)
            {
                continue; // a patch sets some variables only
            }

            var literal = LiteralSettings(container);
            if (!literal.TryGetValue("Logging__Console__FormatterName", out var formatter) || formatter != "json")
            {
                problems.Add($"{owner}: Logging__Console__FormatterName is not json");
            }

            if ((container.Env ?? []).Any(e => ServiceSettings.Key(e.Name).Equals("Pipeline:NodeId", StringComparison.OrdinalIgnoreCase) && e.ValueFrom?.FieldRef is null))
            {
                problems.Add($"{owner}: a fixed Pipeline__NodeId would be shared by every replica; the default (host name and process id) is unique");
            }
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Theory]
    [MemberData(nameof(DeploymentManifests.BuildsAndFiles), MemberType = typeof(DeploymentManifests))]
    public void Credentials_come_from_secrets_never_inline(string source)
    {
        var objects = manifests.Objects(source);
        var problems = new List<string>();
        var secrets = objects.OfType<V1Secret>().ToDictionary(s => s.Metadata.Name, StringComparer.Ordinal);
        foreach (var (owner, _, container) in DeploymentManifests.Containers(objects))
        {
            foreach (var variable in (container.Env ?? []).Where(e => Credential().IsMatch(e.Name)))
            {
                if (variable.ValueFrom?.SecretKeyRef is not { } reference)
                {
                    problems.Add($"{owner}: {variable.Name} is {(variable.Value is null ? "not from a Secret" : "written inline")}; use valueFrom.secretKeyRef");
                }
                else if (source != DeploymentManifests.EveryFile && source != DeploymentManifests.Base
                         && !(secrets.TryGetValue(reference.Name, out var secret) && (secret.Data?.ContainsKey(reference.Key) == true || secret.StringData?.ContainsKey(reference.Key) == true)))
                {
                    problems.Add($"{owner}: {variable.Name} names Secret {reference.Name} key {reference.Key}, which the build does not have");
                }
            }
        }

        foreach (var map in objects.OfType<V1ConfigMap>())
        {
            problems.AddRange((map.Data ?? new Dictionary<string, string>()).Where(d => Credential().IsMatch(d.Key) || d.Value.Contains("Password=", StringComparison.OrdinalIgnoreCase))
                .Select(d => $"ConfigMap {map.Metadata?.Name}: {d.Key} holds a credential"));
        }

        if (source == DeploymentManifests.EveryFile)
        {
            problems.AddRange(secrets.Keys.Select(name => $"Secret {name} is committed as a manifest; generate it in an example overlay or let the cluster provide it"));
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Theory]
    [MemberData(nameof(DeploymentManifests.Builds), MemberType = typeof(DeploymentManifests))]
    public void Pods_run_unprivileged_on_a_read_only_root_with_a_writable_tmp_volume(string build)
    {
        var problems = new List<string>();
        var objects = manifests.Objects(build);
        foreach (var (owner, template) in DeploymentManifests.PodTemplates(objects))
        {
            if (template.Spec.AutomountServiceAccountToken != false)
            {
                problems.Add($"{owner}: automountServiceAccountToken is not false (the service never calls the Kubernetes API)");
            }
        }

        foreach (var (owner, pod, container) in DeploymentManifests.Containers(objects))
        {
            var context = container.SecurityContext;
            if ((context?.RunAsNonRoot ?? pod.SecurityContext?.RunAsNonRoot) != true)
            {
                problems.Add($"{owner}: runAsNonRoot is not true");
            }

            if ((context?.SeccompProfile?.Type ?? pod.SecurityContext?.SeccompProfile?.Type) != "RuntimeDefault")
            {
                problems.Add($"{owner}: seccompProfile is not RuntimeDefault");
            }

            if (context?.AllowPrivilegeEscalation != false)
            {
                problems.Add($"{owner}: allowPrivilegeEscalation is not false");
            }

            if (context?.ReadOnlyRootFilesystem != true)
            {
                problems.Add($"{owner}: readOnlyRootFilesystem is not true");
            }

            if (context?.Capabilities?.Drop?.Contains("ALL") != true || context.Capabilities.Add is { Count: > 0 })
            {
                problems.Add($"{owner}: capabilities do not drop ALL and add none");
            }

            var tmp = (container.VolumeMounts ?? []).FirstOrDefault(m => m.MountPath == "/tmp");
            if (tmp is null || (pod.Volumes ?? []).FirstOrDefault(v => v.Name == tmp.Name)?.EmptyDir is null)
            {
                problems.Add($"{owner}: /tmp is not an emptyDir volume (the runtime's diagnostic socket needs a writable TMPDIR)");
            }

            var requests = container.Resources?.Requests ?? new Dictionary<string, ResourceQuantity>();
            if (!requests.ContainsKey("cpu") || !requests.ContainsKey("memory") || container.Resources?.Limits?.ContainsKey("memory") != true)
            {
                problems.Add($"{owner}: resources need cpu and memory requests and a memory limit");
            }
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Theory]
    [MemberData(nameof(DeploymentManifests.Builds), MemberType = typeof(DeploymentManifests))]
    public void The_migration_runs_as_the_owner_role_and_grants_the_role_the_replicas_log_in_as(string build)
    {
        var objects = manifests.Objects(build);
        var (_, replicaContainer) = ReplicaContainer(objects);
        var job = Assert.Single(objects.OfType<V1Job>());
        var migrate = Assert.Single(job.Spec.Template.Spec.Containers);
        var args = (migrate.Command ?? []).Concat(migrate.Args ?? []).ToList();
        Assert.True(args is ["migrate", "--grant-to", _], $"the Job runs [{string.Join(", ", args)}], expected [migrate, --grant-to, <service role>]");
        var grantee = args[2];
        Assert.Equal(replicaContainer.Image, migrate.Image);

        var owner = Assert.Single(migrate.Env ?? [], e => e.Name == "ConnectionStrings__InventoryOwner");
        Assert.NotNull(owner.ValueFrom?.SecretKeyRef);
        Assert.DoesNotContain(migrate.Env ?? [], e => e.Name == "ConnectionStrings__Inventory");
        Assert.DoesNotContain(replicaContainer.Env ?? [], e => e.Name == "ConnectionStrings__InventoryOwner");
        var service = Assert.Single(replicaContainer.Env ?? [], e => e.Name == "ConnectionStrings__Inventory");

        var secrets = objects.OfType<V1Secret>().ToDictionary(s => s.Metadata.Name, StringComparer.Ordinal);
        if (build != DeploymentManifests.Base)
        {
            var ownerRole = new NpgsqlConnectionStringBuilder(SecretValue(secrets, owner.ValueFrom!.SecretKeyRef)).Username;
            var serviceRole = new NpgsqlConnectionStringBuilder(SecretValue(secrets, service.ValueFrom!.SecretKeyRef)).Username;
            Assert.True(grantee == serviceRole, $"the Job grants {grantee}, but the replicas log in as {serviceRole}");
            Assert.True(ownerRole != serviceRole, $"the migration and the replicas both log in as {ownerRole}: the replicas could change the schema");
        }
    }

    /// <summary>The one Deployment and its replica container (the one that runs the <c>run</c> verb).</summary>
    private static (V1Deployment Deployment, V1Container Container) ReplicaContainer(IReadOnlyList<object> objects)
    {
        var deployment = Assert.Single(objects.OfType<V1Deployment>(), d => d.Metadata?.Name == Replicas);
        var container = Assert.Single(deployment.Spec.Template.Spec.Containers, c => (c.Args ?? []) is ["run", ..] || (c.Command ?? []).Contains("run"));
        return (deployment, container);
    }

    /// <summary>What the container's process sees of the settings a manifest can state: the image's environment, then the
    /// container's literal variables over it.</summary>
    private static Dictionary<string, string> ContainerSettings(V1Container container)
    {
        var settings = new Dictionary<string, string>(DeploymentManifests.ImageEnvironment, StringComparer.Ordinal);
        foreach (var (name, value) in LiteralSettings(container))
        {
            settings[name] = value;
        }

        return settings;
    }

    private static Dictionary<string, string> LiteralSettings(V1Container container) =>
        (container.Env ?? []).Where(e => e.ValueFrom is null).ToDictionary(e => e.Name, e => e.Value ?? "", StringComparer.Ordinal);

    /// <summary>A port as a number: a number, or the name of one of the container's ports.</summary>
    private static int? PortNumber(V1Container container, string? port) =>
        port is null ? null
        : int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number
        : (container.Ports ?? []).FirstOrDefault(p => p.Name == port)?.ContainerPort;

    private static IEnumerable<string> RouteAndPort(string what, string? path, int? port, ServiceSettings.Replica replica)
    {
        if (path is null || !replica.Routes.Contains(path))
        {
            yield return $"{what}: path {path ?? "missing"} is not a route the replica maps";
        }

        if (port != replica.Port)
        {
            yield return $"{what}: port {port?.ToString(CultureInfo.InvariantCulture) ?? "unresolved"}, the replica listens on {replica.Port}";
        }
    }

    /// <summary>The Service and the disruption budget select the replicas' pods, and the Service forwards to their port.</summary>
    private static IEnumerable<string> SelectorProblems(IReadOnlyList<object> objects, V1Deployment deployment, ServiceSettings.Replica replica)
    {
        var labels = deployment.Spec.Template.Metadata?.Labels ?? new Dictionary<string, string>();
        bool Selects(IDictionary<string, string>? selector) => selector is { Count: > 0 } && selector.All(s => labels.TryGetValue(s.Key, out var v) && v == s.Value);
        if (!Selects(deployment.Spec.Selector?.MatchLabels))
        {
            yield return "the Deployment's selector does not match its pod labels";
        }

        if (objects.OfType<V1PodDisruptionBudget>().SingleOrDefault(b => Selects(b.Spec?.Selector?.MatchLabels)) is not { } budget)
        {
            yield return "no single PodDisruptionBudget selects the replicas";
        }
        else if (budget.Spec.MaxUnavailable?.Value != "1" && budget.Spec.MinAvailable is null)
        {
            yield return "the PodDisruptionBudget neither keeps a minimum nor limits unavailable replicas to one";
        }

        var container = deployment.Spec.Template.Spec.Containers[0];
        foreach (var service in objects.OfType<V1Service>().Where(s => Selects(s.Spec?.Selector)))
        {
            foreach (var port in service.Spec.Ports ?? [])
            {
                if (PortNumber(container, port.TargetPort?.Value ?? port.Port.ToString(CultureInfo.InvariantCulture)) != replica.Port)
                {
                    yield return $"Service {service.Metadata?.Name} port {port.Name} forwards to {port.TargetPort?.Value}, not the replica's port {replica.Port}";
                }
            }
        }
    }

    private static string SecretValue(Dictionary<string, V1Secret> secrets, V1SecretKeySelector reference)
    {
        var secret = secrets.TryGetValue(reference.Name, out var s) ? s : throw new Xunit.Sdk.XunitException($"no Secret {reference.Name} in the build");
        if (secret.StringData?.TryGetValue(reference.Key, out var text) == true)
        {
            return text;
        }

        // KubernetesClient's YAML reader decodes a data value's base64.
        return secret.Data?.TryGetValue(reference.Key, out var data) == true
            ? Encoding.UTF8.GetString(data)
            : throw new Xunit.Sdk.XunitException($"Secret {reference.Name} has no key {reference.Key}");
    }

    /// <summary>Variable or key names that carry a credential: a password, a connection string, a ZooKeeper digest identity.</summary>
    [GeneratedRegex("password|connectionstring|digest", RegexOptions.IgnoreCase)]
    private static partial Regex Credential();
}
