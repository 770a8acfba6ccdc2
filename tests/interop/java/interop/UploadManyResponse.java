package interop;

import java.util.List;

import javax.xml.bind.annotation.XmlAccessType;
import javax.xml.bind.annotation.XmlAccessorType;
import javax.xml.bind.annotation.XmlElement;
import javax.xml.bind.annotation.XmlRootElement;
import javax.xml.bind.annotation.XmlType;

@XmlRootElement(name = "uploadManyResponse", namespace = Interop.NS)
@XmlAccessorType(XmlAccessType.FIELD)
@XmlType(name = "uploadManyResponse", namespace = Interop.NS)
public class UploadManyResponse {
    @XmlElement(name = "return", namespace = "")
    public List<Digest> _return;
}
