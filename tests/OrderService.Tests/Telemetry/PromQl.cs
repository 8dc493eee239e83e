using System.Text.Json;
using System.Text.RegularExpressions;
using Pipeline.Testing;
using YamlDotNet.RepresentationModel;

namespace Pipeline.OrderService.Tests.Telemetry;

/// <summary>The PromQL of the repository's dashboards and alert rules, and the metric names it reads.</summary>
internal static partial class PromQl
{
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "inf", "nan",
    };

    /// <summary>Every expression of deploy/grafana's dashboards (each <c>expr</c> anywhere in the JSON) and of
    /// deploy/prometheus/alerts.yml (each rule's <c>expr</c>), with the file it is in.</summary>
    public static IReadOnlyList<(string File, string Expression)> RepositoryExpressions()
    {
        var found = new List<(string, string)>();
        foreach (var path in Directory.EnumerateFiles(RepositoryRoot.PathOf("deploy/grafana"), "*.json", SearchOption.AllDirectories))
        {
            using var json = JsonDocument.Parse(File.ReadAllText(path));
            found.AddRange(JsonExpressions(json.RootElement).Select(e => (Path.GetRelativePath(RepositoryRoot.Folder, path), e)));
        }

        var alerts = RepositoryRoot.PathOf("deploy/prometheus/alerts.yml");
        var yaml = new YamlStream();
        using (var reader = new StreamReader(alerts))
        {
            yaml.Load(reader);
        }

        var groups = (YamlSequenceNode)((YamlMappingNode)yaml.Documents[0].RootNode)["groups"];
        foreach (var group in groups.Cast<YamlMappingNode>())
        {
            foreach (var rule in ((YamlSequenceNode)group["rules"]).Cast<YamlMappingNode>())
            {
                found.Add(("deploy/prometheus/alerts.yml", ((YamlScalarNode)rule["expr"]).Value!));
            }
        }

        return found;
    }

    /// <summary>The metric names <paramref name="expression"/> selects: what is left once strings, label matchers, ranges,
    /// grouping clauses, function calls, keywords, numbers and variables are taken out.</summary>
    public static IReadOnlySet<string> MetricNames(string expression)
    {
        var text = Strings().Replace(expression, " ");
        text = Matchers().Replace(text, " ");
        text = Ranges().Replace(text, " ");
        text = Grouping().Replace(text, " ");
        return Identifiers().Matches(text).Select(m => m.Value).Where(name => !Keywords.Contains(name)).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>The sample names of a Prometheus text exposition (histograms' <c>_bucket</c>, <c>_sum</c>, <c>_count</c> each).</summary>
    public static IReadOnlySet<string> ExportedNames(string exposition) =>
        exposition.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(l => l[..l.IndexOfAny(['{', ' '])]).ToHashSet(StringComparer.Ordinal);

    private static IEnumerable<string> JsonExpressions(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (property.Name == "expr" && property.Value.ValueKind == JsonValueKind.String)
                    {
                        yield return property.Value.GetString()!;
                    }
                    else
                    {
                        foreach (var inner in JsonExpressions(property.Value))
                        {
                            yield return inner;
                        }
                    }
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    foreach (var inner in JsonExpressions(item))
                    {
                        yield return inner;
                    }
                }

                break;
            default:
                break;
        }
    }

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")]
    private static partial Regex Strings();

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex Matchers();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex Ranges();

    [GeneratedRegex(@"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")]
    private static partial Regex Grouping();

    /// <summary>A name not preceded by a digit, a dot or <c>$</c> (numbers, durations, variables) nor followed by <c>(</c> (a function).</summary>
    [GeneratedRegex(@"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*(?![\w:]|\s*\()")]
    private static partial Regex Identifiers();
}
