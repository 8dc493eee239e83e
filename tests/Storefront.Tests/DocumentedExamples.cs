using System.Text.RegularExpressions;

namespace Pipeline.Storefront.Tests;

/// <summary>The examples of docs/STOREFRONT.md, each the first fenced block after its marker <c>&lt;!-- example: NAME --&gt;</c>,
/// so the tests publish and compare exactly what the document shows.</summary>
internal static partial class DocumentedExamples
{
    public const string SubmittedEnvelope = "OrderSubmitted envelope";
    public const string SubmittedRaw = "OrderSubmitted raw";
    public const string ConfirmedEnvelope = "OrderConfirmed envelope";
    public const string RejectedEnvelope = "OrderRejected envelope";

    public static string Get(string name)
    {
        var document = RepositoryFiles.Read(RepositoryFiles.StorefrontDoc);
        var marker = $"<!-- example: {name} -->";
        var at = document.IndexOf(marker, StringComparison.Ordinal);
        Assert.True(at >= 0, $"{RepositoryFiles.StorefrontDoc} has no marker {marker}");
        var block = FencedBlock().Match(document, at + marker.Length);
        Assert.True(block.Success, $"{RepositoryFiles.StorefrontDoc}: no fenced block after {marker}");
        return block.Groups["body"].Value;
    }

    [GeneratedRegex(@"```\w*\n(?<body>.*?)\n```", RegexOptions.Singleline)]
    private static partial Regex FencedBlock();
}
