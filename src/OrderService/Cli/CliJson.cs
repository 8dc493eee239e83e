using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.OrderService.Cli;

/// <summary>How <c>--json</c> documents are written: camelCase names as the records declare them (the shapes documented in
/// docs/OPERATIONS.md), indented, one document on stdout.</summary>
internal static class CliJson
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static void Write<T>(T document) => Console.Out.WriteLine(JsonSerializer.Serialize(document, Options));
}
