using System.Diagnostics;
using System.Globalization;

namespace Pipeline.OrderService.Tests.Telemetry;

/// <summary>None of the passwords a replica runs with (PostgreSQL, RabbitMQ, the ZooKeeper digest) appears in anything it
/// exports: a span's name, attributes, events, links or status, the resource, or <c>/metrics</c>.</summary>
[Collection(TracedReplicaCollection.Name)]
public sealed class CredentialLeakTests(TracedReplica run)
{
    [Fact]
    public async Task No_configured_password_appears_in_an_exported_span_the_resource_or_the_metrics()
    {
        var spans = run.Spans.Snapshot();

        // The run exported what could carry a credential: database, broker and election spans, and the resource.
        Assert.Contains(spans, s => s.Source.Name == "Npgsql");
        Assert.Contains(spans, s => s.Source.Name == "MassTransit");
        Assert.Contains(spans, s => s.Source.Name == "Pipeline.Election");
        var resource = run.Resource.Attributes.ToList();
        Assert.Contains(resource, a => a.Key == "service.instance.id" && (string)a.Value == "otel-1");

        var exported = new List<(string Where, string Text)>();
        foreach (var span in spans)
        {
            var at = $"span '{span.DisplayName}' ({span.Source.Name})";
            exported.Add((at, span.DisplayName));
            exported.Add((at + " status", span.StatusDescription ?? ""));
            exported.AddRange(span.TagObjects.Select(t => ($"{at} attribute {t.Key}", Text(t.Value))));
            exported.AddRange(span.Events.SelectMany(e => e.Tags.Select(t => ($"{at} event {e.Name} {t.Key}", Text(t.Value))).Append(($"{at} event", e.Name))));
            exported.AddRange(span.Links.SelectMany(l => (l.Tags ?? []).Select(t => ($"{at} link {t.Key}", Text(t.Value)))));
            exported.AddRange(span.Baggage.Select(b => ($"{at} baggage {b.Key}", b.Value ?? "")));
        }

        exported.AddRange(resource.Select(a => ($"resource {a.Key}", Text(a.Value))));
        exported.Add(("/metrics", await run.ScrapeAsync()));

        var leaks = (from password in run.Passwords
                     from item in exported
                     where item.Text.Contains(password.Value, StringComparison.Ordinal)
                     select $"the {password.Key} password in {item.Where}").Distinct().ToList();
        Assert.True(leaks.Count == 0, string.Join("\n", leaks));
    }

    private static string Text(object? value) => value switch
    {
        null => "",
        string s => s,
        System.Collections.IEnumerable items => string.Join(" ", items.Cast<object?>().Select(Text)),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
