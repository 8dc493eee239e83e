namespace Pipeline.OrderService.Tests.Deployment;

/// <summary>The fields of a kustomization.yaml this repository uses. It is loaded strictly, so a kind of reference the file
/// checks do not know (components, helmCharts, ...) fails the test until they are taught it.</summary>
public sealed class Kustomization
{
    public string? ApiVersion { get; set; }

    public string? Kind { get; set; }

    public string? Namespace { get; set; }

    public List<string>? Resources { get; set; }

    public List<KustomizeImage>? Images { get; set; }

    public List<KustomizePatch>? Patches { get; set; }

    public List<KustomizeGenerator>? SecretGenerator { get; set; }

    public List<KustomizeGenerator>? ConfigMapGenerator { get; set; }

    /// <summary>Every file a kustomization names, relative to its folder: resources (files or kustomization folders), patch
    /// files and generator sources (a <c>key=path</c> file entry names path).</summary>
    public IEnumerable<string> ReferencedPaths() =>
        (Resources ?? [])
        .Concat((Patches ?? []).Select(p => p.Path).OfType<string>())
        .Concat((SecretGenerator ?? []).Concat(ConfigMapGenerator ?? [])
            .SelectMany(g => (g.Files ?? []).Select(f => f.Contains('=', StringComparison.Ordinal) ? f[(f.IndexOf('=', StringComparison.Ordinal) + 1)..] : f).Concat(g.Envs ?? [])));
}

public sealed class KustomizeImage
{
    public string? Name { get; set; }

    public string? NewName { get; set; }

    public string? NewTag { get; set; }

    public string? Digest { get; set; }
}

public sealed class KustomizePatch
{
    public string? Path { get; set; }

    public string? Patch { get; set; }

    public Dictionary<string, string>? Target { get; set; }
}

public sealed class KustomizeGenerator
{
    public string? Name { get; set; }

    public string? Behavior { get; set; }

    public string? Type { get; set; }

    public List<string>? Literals { get; set; }

    public List<string>? Files { get; set; }

    public List<string>? Envs { get; set; }
}
