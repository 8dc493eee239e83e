using System.Text;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Pipeline.OrderService.Tests.Deployment;

/// <summary>Renders a kustomization folder the way <c>kubectl kustomize</c> does, for the features this repository's
/// kustomizations use: resources (files and kustomization folders), strategic-merge patches, secret generators, the
/// namespace and image transformers. It needs no kubectl, so the manifest tests run on any machine; the kustomization is
/// loaded strictly and anything else it asks for fails here rather than being ignored. Generated Secrets keep their
/// names (kustomize adds a content hash and renames the references with it, which changes nothing these tests check).</summary>
internal static class KustomizeRenderer
{
    /// <summary>The folder's objects as kustomize would emit them, as YAML documents.</summary>
    public static async Task<string> RenderAsync(string folder)
    {
        var stream = new YamlStream([.. (await DocumentsAsync(folder)).Select(d => new YamlDocument(d))]);
        using var text = new StringWriter();
        stream.Save(text, assignAnchors: false);
        return text.ToString();
    }

    private static async Task<List<YamlMappingNode>> DocumentsAsync(string folder)
    {
        var file = Path.Combine(folder, "kustomization.yaml");
        var kustomization = k8s.KubernetesYaml.Deserialize<Kustomization>(await File.ReadAllTextAsync(file), strict: true);
        var documents = new List<YamlMappingNode>();
        foreach (var resource in kustomization.Resources ?? [])
        {
            var path = Path.GetFullPath(Path.Combine(folder, resource));
            documents.AddRange(Directory.Exists(path) ? await DocumentsAsync(path) : await ReadAsync(path));
        }

        foreach (var generator in kustomization.SecretGenerator ?? [])
        {
            documents.Add(await SecretAsync(folder, generator));
        }

        if (kustomization.ConfigMapGenerator is { Count: > 0 })
        {
            throw new InvalidOperationException($"{file}: configMapGenerator is not rendered here; teach {nameof(KustomizeRenderer)}");
        }

        foreach (var patch in kustomization.Patches ?? [])
        {
            var patches = patch.Path is { } patchPath ? await ReadAsync(Path.Combine(folder, patchPath))
                : patch.Patch is { } inline ? Parse(inline, $"{file} inline patch")
                : throw new InvalidOperationException($"{file}: a patch with neither path nor patch");
            foreach (var document in patches)
            {
                var (kind, name) = patch.Target is { } target
                    ? (target.GetValueOrDefault("kind"), target.GetValueOrDefault("name"))
                    : (Scalar(document, "kind"), Scalar(Map(document, "metadata"), "name"));
                if (patch.Target?.Keys.Except(["kind", "name"]).FirstOrDefault() is { } other)
                {
                    throw new InvalidOperationException($"{file}: patch target by {other} is not rendered here");
                }

                var targets = documents.Where(d => Scalar(d, "kind") == kind && Scalar(Map(d, "metadata"), "name") == name).ToList();
                if (targets.Count == 0)
                {
                    throw new InvalidOperationException($"{file}: patch {patch.Path ?? "(inline)"} targets {kind}/{name}, which no resource is");
                }

                targets.ForEach(t => Merge(t, document, $"{kind}/{name}"));
            }
        }

        foreach (var document in documents)
        {
            if (kustomization.Namespace is { } space && Scalar(document, "kind") != "Namespace")
            {
                Set(Map(document, "metadata", create: true)!, "namespace", space);
            }

            foreach (var image in kustomization.Images ?? [])
            {
                foreach (var container in Containers(document))
                {
                    var current = Scalar(container, "image") ?? "";
                    var bare = current.Split('@')[0];
                    bare = bare.LastIndexOf(':') > bare.LastIndexOf('/') ? bare[..bare.LastIndexOf(':')] : bare;
                    if (bare == image.Name)
                    {
                        Set(container, "image", (image.NewName ?? bare) + (image.Digest is { } digest ? "@" + digest
                            : image.NewTag is { } tag ? ":" + tag
                            : current[bare.Length..]));
                    }
                }
            }
        }

        return documents;
    }

    private static async Task<YamlMappingNode> SecretAsync(string folder, KustomizeGenerator generator)
    {
        if (generator.Behavior is not (null or "create"))
        {
            throw new InvalidOperationException($"secretGenerator {generator.Name}: behavior {generator.Behavior} is not rendered here");
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var literal in generator.Literals ?? [])
        {
            var at = literal.IndexOf('=', StringComparison.Ordinal);
            values.Add(literal[..at], literal[(at + 1)..]);
        }

        foreach (var entry in generator.Files ?? [])
        {
            var at = entry.IndexOf('=', StringComparison.Ordinal);
            var path = at < 0 ? entry : entry[(at + 1)..];
            values.Add(at < 0 ? Path.GetFileName(path) : entry[..at], await File.ReadAllTextAsync(Path.Combine(folder, path)));
        }

        foreach (var envs in generator.Envs ?? [])
        {
            foreach (var line in await File.ReadAllLinesAsync(Path.Combine(folder, envs)))
            {
                if (line.Trim() is { Length: > 0 } trimmed && !trimmed.StartsWith('#'))
                {
                    var at = trimmed.IndexOf('=', StringComparison.Ordinal);
                    values.Add(trimmed[..at], trimmed[(at + 1)..]);
                }
            }
        }

        var data = new YamlMappingNode();
        foreach (var (key, value) in values)
        {
            data.Add(key, Convert.ToBase64String(Encoding.UTF8.GetBytes(value)));
        }

        var name = generator.Name ?? throw new InvalidOperationException("a secretGenerator without a name");
        return new YamlMappingNode(
            "apiVersion", "v1", "kind", "Secret", "metadata", new YamlMappingNode("name", name), "type", generator.Type ?? "Opaque", "data", data);
    }

    /// <summary>A strategic merge of <paramref name="patch"/> into <paramref name="target"/>: maps merge key by key, lists
    /// of named entries (containers, env, volumes, volume mounts, ports) merge by name, other values are replaced.</summary>
    private static void Merge(YamlMappingNode target, YamlMappingNode patch, string where)
    {
        foreach (var (keyNode, value) in patch.Children)
        {
            var key = ((YamlScalarNode)keyNode).Value ?? "";
            if (key.StartsWith('$'))
            {
                throw new InvalidOperationException($"{where}: patch directive {key} is not rendered here");
            }

            var current = Get(target, key);
            if (value is YamlMappingNode patchMap && current is YamlMappingNode targetMap)
            {
                Merge(targetMap, patchMap, $"{where}.{key}");
            }
            else if (value is YamlSequenceNode patchList && current is YamlSequenceNode targetList
                     && patchList.All(e => e is YamlMappingNode m && Scalar(m, "name") is not null))
            {
                foreach (var entry in patchList.Cast<YamlMappingNode>())
                {
                    var name = Scalar(entry, "name");
                    var same = targetList.OfType<YamlMappingNode>().FirstOrDefault(t => Scalar(t, "name") == name);
                    if (same is null)
                    {
                        targetList.Add(entry);
                    }
                    else
                    {
                        Merge(same, entry, $"{where}.{key}[{name}]");
                    }
                }
            }
            else
            {
                target.Children[new YamlScalarNode(key)] = value;
            }
        }
    }

    private static IEnumerable<YamlMappingNode> Containers(YamlMappingNode document)
    {
        var spec = Map(document, "spec");
        var pod = Scalar(document, "kind") switch
        {
            "CronJob" => Map(Map(Map(Map(spec, "jobTemplate"), "spec"), "template"), "spec"),
            "Pod" => spec,
            _ => Map(Map(spec, "template"), "spec"),
        };
        return new[] { "containers", "initContainers" }
            .SelectMany(list => Get(pod, list) as YamlSequenceNode ?? [])
            .OfType<YamlMappingNode>();
    }

    private static async Task<List<YamlMappingNode>> ReadAsync(string path) =>
        Parse(await File.ReadAllTextAsync(path), path);

    private static List<YamlMappingNode> Parse(string yaml, string source)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            throw new InvalidOperationException($"{source}: {ex.Message}", ex);
        }

        return [.. stream.Documents.Select(d => d.RootNode as YamlMappingNode
                                         ?? throw new InvalidOperationException($"{source}: a document that is not a mapping"))];
    }

    private static YamlNode? Get(YamlMappingNode? parent, string key) =>
        parent is not null && parent.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private static YamlMappingNode? Map(YamlMappingNode? parent, string key, bool create = false)
    {
        if (Get(parent, key) is YamlMappingNode map)
        {
            return map;
        }

        if (parent is null || !create)
        {
            return null;
        }

        var created = new YamlMappingNode();
        parent.Children[new YamlScalarNode(key)] = created;
        return created;
    }

    private static string? Scalar(YamlMappingNode? parent, string key) => (Get(parent, key) as YamlScalarNode)?.Value;

    private static void Set(YamlMappingNode parent, string key, string value) =>
        parent.Children[new YamlScalarNode(key)] = new YamlScalarNode(value) { Style = ScalarStyle.DoubleQuoted };
}
