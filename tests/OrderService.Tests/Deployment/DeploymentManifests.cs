using k8s;
using k8s.Models;
using Pipeline.Testing;

namespace Pipeline.OrderService.Tests.Deployment;

/// <summary>The Kubernetes manifests of deploy/kubernetes, loaded strictly (an unknown field fails) into KubernetesClient's
/// typed models: every manifest file as written, every kustomization, and each kustomization folder (the base, each
/// overlay) as kustomize renders it.</summary>
public sealed class DeploymentManifests : IAsyncLifetime
{
    /// <summary>The objects of every manifest file as written, patches included.</summary>
    public const string EveryFile = "every manifest file";

    public const string Base = "base";

    public static string Folder { get; } = RepositoryRoot.PathOf("deploy/kubernetes");

    /// <summary>Each folder holding a kustomization.yaml, relative to deploy/kubernetes with '/' separators.</summary>
    public static IReadOnlyList<string> Kustomized { get; } =
        [.. Directory.GetFiles(Folder, "kustomization.yaml", SearchOption.AllDirectories).Select(f => Relative(Path.GetDirectoryName(f)!)).Order(StringComparer.Ordinal)];

    /// <summary>Every manifest file (kustomization.yaml aside), relative to deploy/kubernetes.</summary>
    public static IReadOnlyList<string> ManifestFiles { get; } =
        [.. Directory.GetFiles(Folder, "*.y*ml", SearchOption.AllDirectories).Where(f => Path.GetFileName(f) != "kustomization.yaml").Select(Relative).Order(StringComparer.Ordinal)];

    /// <summary>The environment the image gives every container: the ENV lines of the Dockerfile's last stage.</summary>
    public static IReadOnlyDictionary<string, string> ImageEnvironment { get; } = ReadImageEnvironment();

    public static TheoryData<string> Builds => new(Kustomized);

    public static TheoryData<string> BuildsAndFiles => new(Kustomized.Append(EveryFile));

    public Dictionary<string, Kustomization> Kustomizations { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, IReadOnlyList<object>> Files { get; } = new(StringComparer.Ordinal);

    /// <summary>What failed to load or render, with the reason; the tests that need the object fail on its absence too.</summary>
    public List<string> LoadErrors { get; } = [];

    private readonly Dictionary<string, IReadOnlyList<object>> builds = new(StringComparer.Ordinal);

    /// <summary>The objects of a build (<see cref="Base"/>, an overlay) or of <see cref="EveryFile"/>.</summary>
    public IReadOnlyList<object> Objects(string source) =>
        source == EveryFile ? [.. Files.Values.SelectMany(o => o)]
        : builds.TryGetValue(source, out var built) ? built
        : throw new InvalidOperationException($"{source} did not build: {string.Join("; ", LoadErrors)}");

    public async Task InitializeAsync()
    {
        foreach (var file in ManifestFiles)
        {
            try
            {
                Files[file] = KubernetesYaml.LoadAllFromString(await File.ReadAllTextAsync(Path.Combine(Folder, file)), strict: true);
            }
            catch (Exception ex) when (ex is YamlDotNet.Core.YamlException or KeyNotFoundException or InvalidOperationException)
            {
                LoadErrors.Add($"{file}: {ex.Message}{(ex.InnerException is { } inner ? $" ({inner.Message})" : "")}");
            }
        }

        foreach (var folder in Kustomized)
        {
            try
            {
                Kustomizations[folder] = KubernetesYaml.Deserialize<Kustomization>(await File.ReadAllTextAsync(Path.Combine(Folder, folder, "kustomization.yaml")), strict: true);
            }
            catch (YamlDotNet.Core.YamlException ex)
            {
                LoadErrors.Add($"{folder}/kustomization.yaml: {ex.Message}{(ex.InnerException is { } inner ? $" ({inner.Message})" : "")}");
            }
        }

        foreach (var folder in Kustomized)
        {
            try
            {
                builds[folder] = KubernetesYaml.LoadAllFromString(await KustomizeRenderer.RenderAsync(Path.Combine(Folder, folder)), strict: true);
            }
            catch (Exception ex) when (ex is InvalidOperationException or IOException or YamlDotNet.Core.YamlException or KeyNotFoundException or ArgumentException)
            {
                LoadErrors.Add($"{folder}: {ex.Message}");
            }
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>The pod templates of the workloads among <paramref name="objects"/>, named by kind and name.</summary>
    public static IEnumerable<(string Owner, V1PodTemplateSpec Template)> PodTemplates(IEnumerable<object> objects) =>
        objects.Select(o => o switch
            {
                V1Deployment d => ($"Deployment/{d.Metadata?.Name}", d.Spec?.Template),
                V1StatefulSet s => ($"StatefulSet/{s.Metadata?.Name}", s.Spec?.Template),
                V1DaemonSet s => ($"DaemonSet/{s.Metadata?.Name}", s.Spec?.Template),
                V1Job j => ($"Job/{j.Metadata?.Name}", j.Spec?.Template),
                V1CronJob c => ($"CronJob/{c.Metadata?.Name}", c.Spec?.JobTemplate?.Spec?.Template),
                _ => ("", null),
            })
            .Where(t => t.Item2 is not null)
            .Select(t => (t.Item1, t.Item2!));

    /// <summary>Every container of those templates, init containers included.</summary>
    public static IEnumerable<(string Owner, V1PodSpec Pod, V1Container Container)> Containers(IEnumerable<object> objects) =>
        PodTemplates(objects).Where(t => t.Template.Spec is not null)
            .SelectMany(t => (t.Template.Spec.Containers ?? []).Concat(t.Template.Spec.InitContainers ?? [])
                .Select(c => ($"{t.Owner} container {c.Name}", t.Template.Spec, c)));

    private static Dictionary<string, string> ReadImageEnvironment()
    {
        var dockerfile = RepositoryRoot.PathOf("src/OrderService/Dockerfile");
        var instructions = File.ReadAllText(dockerfile).Replace("\\\n", " ", StringComparison.Ordinal).Split('\n')
            .Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        var lastStage = instructions.FindLastIndex(l => l.StartsWith("FROM ", StringComparison.OrdinalIgnoreCase));
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in instructions.Skip(lastStage).Where(l => l.StartsWith("ENV ", StringComparison.OrdinalIgnoreCase)))
        {
            foreach (var pair in line[4..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var at = pair.IndexOf('=', StringComparison.Ordinal);
                environment[at > 0 ? pair[..at] : throw new InvalidOperationException($"{dockerfile}: write ENV as KEY=value pairs: {line}")] = pair[(at + 1)..].Trim('"');
            }
        }

        return environment;
    }

    private static string Relative(string path) => Path.GetRelativePath(Folder, path).Replace(Path.DirectorySeparatorChar, '/');
}
