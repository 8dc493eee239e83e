using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Contracts;
using Pipeline.Inventory.Model;
using Pipeline.Testing;
using RabbitMQ.Client;

namespace Pipeline.Storefront.Tests;

/// <summary>
/// docs/STOREFRONT.md for publishers without MassTransit, checked against real replicas: its example envelope, published
/// verbatim with RabbitMQ.Client as the storefront user, is recorded and decided; its raw JSON example is not read by the
/// intake and lands in order-intake_error, as the document says; a queue declared and bound as the document says receives the
/// decision events, and they have the shape of its examples (field names and JSON kinds, recursively).
/// </summary>
[Collection(StorefrontClusterCollection.Name)]
public sealed class WireFormatTests(StorefrontClusterFixture fixture)
{
    private const string IntakeExchange = "Pipeline.Contracts:OrderSubmitted";
    private static readonly string[] DecisionExchanges = ["Pipeline.Contracts:OrderConfirmed", "Pipeline.Contracts:OrderRejected", "Pipeline.Contracts:OrderIdConflict"];
    private const string IntakeErrorQueue = "order-intake_error";
    private const string EnvelopeContentType = "application/vnd.masstransit+json";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_documented_envelope_is_recorded_and_decided_and_the_decisions_have_the_documented_shape()
    {
        var envelope = DocumentedExamples.Get(DocumentedExamples.SubmittedEnvelope);
        var confirmedId = OrderIdOf(JsonNode.Parse(envelope)!["message"]!);

        // The same envelope for a SKU nobody stocks: its decision is an OrderRejected.
        var unknown = JsonNode.Parse(envelope)!;
        var rejectedId = confirmedId + "-unknown-sku";
        unknown["messageId"] = Guid.NewGuid().ToString();
        unknown["message"]!["orderId"] = rejectedId;
        unknown["message"]!["lines"]![0]!["sku"] = "NOBODY-STOCKS-THIS";

        // The same envelope again under content type application/json, which the intake reads as an envelope too.
        var plainContentType = JsonNode.Parse(envelope)!;
        var plainContentTypeId = confirmedId + "-application-json";
        plainContentType["messageId"] = Guid.NewGuid().ToString();
        plainContentType["message"]!["orderId"] = plainContentTypeId;

        await using var connection = await new ConnectionFactory { Uri = fixture.Storefront.AmqpUri }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        var queue = await BindDecisionQueueAsync(channel, "storefront-wire-envelope");
        await PublishAsync(channel, EnvelopeContentType, envelope);
        await PublishAsync(channel, EnvelopeContentType, unknown.ToJsonString());
        await PublishAsync(channel, "application/json", plainContentType.ToJsonString());

        await PipelineDb.WaitDecidedAsync(fixture.Database.DataSource, [confirmedId, rejectedId, plainContentTypeId], Wait, fixture.Describe);
        var orders = await PipelineDb.OrdersAsync(fixture.Database.DataSource, [confirmedId, rejectedId, plainContentTypeId]);
        Assert.Equal(OrderStatus.Confirmed, orders[confirmedId].Status);
        Assert.Equal((OrderStatus.Rejected, "UnknownSku"), (orders[rejectedId].Status, orders[rejectedId].Reason));
        Assert.Equal(OrderStatus.Confirmed, orders[plainContentTypeId].Status);

        var decisions = await DecisionsAsync(channel, queue, [confirmedId, rejectedId]);
        var (confirmed, rejected) = (decisions[confirmedId], decisions[rejectedId]);
        Assert.Equal(EnvelopeContentType, confirmed.ContentType);
        Assert.Equal(EnvelopeContentType, rejected.ContentType);
        Assert.Contains("urn:message:Pipeline.Contracts:OrderConfirmed", confirmed.Body["messageType"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Contains("urn:message:Pipeline.Contracts:OrderRejected", rejected.Body["messageType"]!.AsArray().Select(t => t!.GetValue<string>()));
        AssertSameShape(JsonNode.Parse(DocumentedExamples.Get(DocumentedExamples.ConfirmedEnvelope))!, confirmed.Body, "OrderConfirmed");
        AssertSameShape(JsonNode.Parse(DocumentedExamples.Get(DocumentedExamples.RejectedEnvelope))!, rejected.Body, "OrderRejected");
        Assert.Equal((int)RejectionReason.UnknownSku, rejected.Body["message"]!["reason"]!.GetValue<int>());
    }

    [Fact]
    public async Task The_documented_raw_json_is_not_recorded_but_parked_in_the_intake_error_queue()
    {
        var raw = DocumentedExamples.Get(DocumentedExamples.SubmittedRaw);
        var orderId = OrderIdOf(JsonNode.Parse(raw)!);
        await using (var connection = await new ConnectionFactory { Uri = fixture.Storefront.AmqpUri }.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
        {
            await PublishAsync(channel, "application/json", raw);
        }

        // Only the service's user may read order-intake_error: the test reads it with the virtual host's own user, on a new
        // channel per attempt (a basic.get before the intake has declared the queue closes the channel with NOT_FOUND).
        await using var admin = await new ConnectionFactory { Uri = fixture.VirtualHost.AmqpUri }.CreateConnectionAsync();
        var parked = await Eventually.GetAsync(async () =>
        {
            await using var channel = await admin.CreateChannelAsync();
            while (await channel.BasicGetAsync(IntakeErrorQueue, autoAck: true) is { } result)
            {
                if (Encoding.UTF8.GetString(result.Body.Span) == raw)
                {
                    return result;
                }
            }

            return null;
        }, Wait, $"the raw JSON order {orderId} in {IntakeErrorQueue}", TimeSpan.FromMilliseconds(100));

        Assert.Equal("application/json", parked.BasicProperties.ContentType);
        Assert.Empty(await PipelineDb.OrdersAsync(fixture.Database.DataSource, [orderId]));
    }

    private static string OrderIdOf(JsonNode message) => message["orderId"]!.GetValue<string>();

    /// <summary>Publishes as the document says: persistent, mandatory (an unroutable order comes back instead of vanishing),
    /// and confirmed by the broker.</summary>
    private static async Task PublishAsync(IChannel channel, string contentType, string body) =>
        await channel.BasicPublishAsync(IntakeExchange, "", mandatory: true, new BasicProperties { ContentType = contentType, Persistent = true }, Encoding.UTF8.GetBytes(body));

    /// <summary>A durable queue of the storefront's own, bound to every decision exchange (declared first: the exchanges exist
    /// only once something declared them).</summary>
    private static async Task<string> BindDecisionQueueAsync(IChannel channel, string queue)
    {
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        foreach (var exchange in DecisionExchanges)
        {
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true, autoDelete: false);
            await channel.QueueBindAsync(queue, exchange, "");
        }

        return queue;
    }

    /// <summary>The decision events for <paramref name="orderIds"/> from <paramref name="queue"/>, the first of each; events of
    /// other orders are acknowledged and skipped.</summary>
    private static async Task<Dictionary<string, Delivery>> DecisionsAsync(IChannel channel, string queue, IReadOnlyCollection<string> orderIds)
    {
        var found = new Dictionary<string, Delivery>(StringComparer.Ordinal);
        await Eventually.TrueAsync(async () =>
        {
            while (await channel.BasicGetAsync(queue, autoAck: true) is { } result)
            {
                var body = JsonNode.Parse(Encoding.UTF8.GetString(result.Body.Span))!;
                if (body["message"]?["orderId"]?.GetValue<string>() is { } id && orderIds.Contains(id))
                {
                    found.TryAdd(id, new Delivery(result.BasicProperties.ContentType, body));
                }
            }

            return found.Count == orderIds.Count;
        }, Wait, $"decision events for {string.Join(", ", orderIds)} in {queue}", TimeSpan.FromMilliseconds(100));
        return found;
    }

    /// <summary>The same field names at every level of objects, and the same JSON kinds, as the documented example; the
    /// first element of an array stands for all. A JSON null reads as a missing value and is not compared further.</summary>
    private static void AssertSameShape(JsonNode documented, JsonNode actual, string path)
    {
        Assert.True(documented.GetValueKind() == actual.GetValueKind(),
            $"{path}: documented as {documented.GetValueKind()}, sent as {actual.GetValueKind()} ({actual.ToJsonString()})");
        switch (documented)
        {
            case JsonObject documentedObject:
                var sent = actual.AsObject();
                var names = documentedObject.Select(p => p.Key).Order(StringComparer.Ordinal).ToList();
                var sentNames = sent.Select(p => p.Key).Order(StringComparer.Ordinal).ToList();
                Assert.True(names.SequenceEqual(sentNames), $"{path}: documented fields [{string.Join(", ", names)}], sent [{string.Join(", ", sentNames)}]");
                foreach (var name in names.Where(n => documentedObject[n] is not null && sent[n] is not null))
                {
                    AssertSameShape(documentedObject[name]!, sent[name]!, $"{path}.{name}");
                }

                break;
            case JsonArray { Count: > 0 } documentedArray when actual.AsArray() is { Count: > 0 } sentArray:
                AssertSameShape(documentedArray[0]!, sentArray[0]!, path + "[0]");
                break;
            default:
                break;
        }
    }

    private sealed record Delivery(string? ContentType, JsonNode Body);
}
