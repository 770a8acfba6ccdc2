// The benchmark's one operation (benchmarks/bench.wsdl) for gSOAP's soapcpp2:
// Upload(name, data) -> received, the data an MTOM attachment (xop:Include).
//gsoap b service name: Bench
//gsoap b service namespace: urn:asyncmtom:bench
//gsoap b schema namespace: urn:asyncmtom:bench
//gsoap b schema form: qualified
//gsoap b service method-action: Upload urn:asyncmtom:bench:Upload
#import "xop.h"

struct b__Data
{ _xop__Include xop__Include;
};

struct b__UploadResponse
{ LONG64 received;
};

int b__Upload(char *name, struct b__Data *data, struct b__UploadResponse *response);
